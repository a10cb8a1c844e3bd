-- wrk script: POST /auth/verify with pre-signed bodies, each posted once.
-- BODIES: file with one JSON body per line (each with its own fresh nonce);
-- WRK_THREADS: the -t given to wrk. Thread k posts lines k, k+T, k+2T, ...
-- When a thread runs out of bodies it sends GET /health (not counted) and reports "exhausted".
local bodies = {}
local i = 0
local threads = {}
local post = { ["Content-Type"] = "application/json", ["User-Agent"] = "wallet-auth-bench/1" }
ok, fail, exhausted = 0, 0, 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local t = tonumber(os.getenv("WRK_THREADS") or "1")
  local n = 0
  for line in io.lines(os.getenv("BODIES")) do
    if #line > 0 then
      if n % t == id then bodies[#bodies + 1] = line end
      n = n + 1
    end
  end
end

function request()
  i = i + 1
  if i <= #bodies then
    return wrk.format("POST", "/auth/verify", post, bodies[i])
  end
  exhausted = 1
  return wrk.format("GET", "/health", post)
end

function response(status, headers, body)
  if status == 200 then
    if string.find(body, '"token"', 1, true) then ok = ok + 1 end
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
  io.write(string.format("signin_ok %d signin_fail %d exhausted %d duration_us %d\n",
    o, f, e, summary.duration))
end
