-- wrk script: posts each line of a file once, as a sign-in or as a logout.
-- MODE=verify (default): LINES (or BODIES) holds pre-signed POST /auth/verify bodies, one JSON
--   per line, each with its own fresh nonce; a 200 with a token counts as ok ("signin_ok").
-- MODE=logout: LINES holds session tokens; each is sent once as POST /auth/logout with
--   "Authorization: Bearer"; a 204 counts as ok ("logout_ok").
-- WRK_THREADS: the -t given to wrk. Thread k posts lines k, k+T, k+2T, ...
-- DELAY_MS (optional): each connection waits that long before each request (paces the run:
--   about connections x 1000 / (DELAY_MS + latency) requests per second).
-- When a thread runs out of lines it sends GET /health (not counted) and reports "exhausted".
local lines = {}
local i = 0
local threads = {}
local mode = os.getenv("MODE") or "verify"
local label = (mode == "logout") and "logout" or "signin"
local headers = { ["Content-Type"] = "application/json", ["User-Agent"] = "wallet-auth-bench/1" }
local pause = tonumber(os.getenv("DELAY_MS") or "")
ok, fail, exhausted = 0, 0, 0

if pause then
  function delay() return pause end
end

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local t = tonumber(os.getenv("WRK_THREADS") or "1")
  local n = 0
  for line in io.lines(os.getenv("LINES") or os.getenv("BODIES")) do
    if #line > 0 then
      if n % t == id then lines[#lines + 1] = line end
      n = n + 1
    end
  end
end

function request()
  i = i + 1
  if i > #lines then
    exhausted = 1
    headers["Authorization"] = nil
    return wrk.format("GET", "/health", headers)
  end
  if mode == "logout" then
    headers["Authorization"] = "Bearer " .. lines[i]
    return wrk.format("POST", "/auth/logout", headers)
  end
  return wrk.format("POST", "/auth/verify", headers, lines[i])
end

-- A 200 without a token is the GET /health of an exhausted thread: not counted.
function response(status, headers, body)
  if status == 200 then
    if mode ~= "logout" and string.find(body, '"token"', 1, true) then ok = ok + 1 end
  elseif status == 204 and mode == "logout" then
    ok = ok + 1
  else
    fail = fail + 1
  end
end

function done(summary, latency, requests)
  local o, f, e = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    f = f + t:get("fail")
    e = e + t:get("exhausted")
  end
  io.write(string.format("%s_ok %d %s_fail %d exhausted %d duration_us %d\n",
    label, o, label, f, e, summary.duration))
end
