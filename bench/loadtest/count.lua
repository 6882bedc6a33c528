-- count.lua: a wrk script for bench/run. It counts the answers by status (200, 429, other)
-- across all threads and prints them with the latency percentiles as "name value" lines.
-- With an argument N (wrk ... -s count.lua URL -- N) every request carries an X-API-Key
-- header cycling over the keys key-0 … key-(N-1).
local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("id", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

function init(args)
  ok, limited, other = 0, 0, 0
  nkeys = tonumber(args[1] or "0")
  i = id
end

function request()
  if nkeys > 0 then
    i = i + 1
    return wrk.format(nil, nil, { ["X-API-Key"] = "key-" .. (i % nkeys) })
  end
  return wrk.format()
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  elseif status == 429 then
    limited = limited + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local o, l, x = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    l = l + t:get("limited")
    x = x + t:get("other")
  end
  local e = summary.errors
  io.write(string.format("requests %d\n", summary.requests))
  io.write(string.format("duration_s %.2f\n", summary.duration / 1e6))
  io.write(string.format("rps %.0f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("status_200 %d\nstatus_429 %d\nstatus_other %d\n", o, l, x))
  io.write(string.format("socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("latency_p%s_us %.0f\n", p, latency:percentile(p)))
  end
  io.write(string.format("latency_max_us %.0f\n", latency.max))
end
