-- wrk script: GET /api/me with bearer tokens rotated over many sessions.
-- TOKENS: file with one session token per line. Each thread starts at its own offset, moved
-- by TOKEN_OFFSET (optional) so that several wrk processes on one pool start apart.
local tokens = {}
local counter = 0
local threads = {}
local headers = nil

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("TOKENS")) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  counter = (id or 0) * 7919 + (tonumber(os.getenv("TOKEN_OFFSET") or "0") or 0)
  headers = { ["User-Agent"] = "wallet-auth-bench/1" }
end

function request()
  counter = counter + 1
  headers["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1]
  return wrk.format("GET", "/api/me", headers)
end
