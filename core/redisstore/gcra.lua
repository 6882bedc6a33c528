-- Token bucket as GCRA. KEYS[1]: string, the theoretical arrival time (TAT).
-- ARGV: now | 'server', cost, increment (cost x emission interval), tau (burst x interval).
-- Reply: {allowed, now s, now ns, stored TAT or ''}.
local ns, nn = clock()
local cost = tonumber(ARGV[2])
local is, inc = tparse(ARGV[3])
local as, an = tparse(ARGV[4])
local old = redis.call('GET', KEYS[1])
local ts, tn = ns, nn
if old then
  local xs, xn = tparse(old)
  if tlt(ns, nn, xs, xn) then
    ts, tn = xs, xn
  end
end
local ys, yn = tnorm(ts + is, tn + inc) -- the new TAT
local ms, mn = tnorm(ns + as, nn + an)  -- now + tau
local ok = 0
if not tlt(ms, mn, ys, yn) then
  ok = 1
  if cost > 0 then
    redis.call('SET', KEYS[1], tfmt(ys, yn), 'PX', int(ttl(ys, yn, ns, nn)))
  end
end
return {ok, ns, nn, old or ''}
