-- Token bucket adjustment (storekit.Adjust): move the TAT by delta emission intervals from
-- max(TAT, now), never below now. KEYS[1]: the token bucket's TAT. ARGV: now | 'server',
-- '+' or '-' (the sign of delta), |delta| x emission interval and the latest TAT the store
-- holds, both in decimal nanoseconds.
-- Reply: {1 applied | 0 refused (the TAT would pass the latest; nothing written), now s,
-- now ns, stored TAT or '', new TAT or ''}.
local ns, nn = clock()
local ds, dn = tparse(ARGV[3])
local old = redis.call('GET', KEYS[1])
local ts, tn = ns, nn
if old then
  local xs, xn = tparse(old)
  if tlt(ns, nn, xs, xn) then
    ts, tn = xs, xn
  end
end
local ys, yn
if ARGV[2] == '-' then
  ys, yn = tnorm(ts - ds, tn - dn)
  if tlt(ys, yn, ns, nn) then
    ys, yn = ns, nn -- a refund never makes the bucket fuller than full
  end
else
  ys, yn = tnorm(ts + ds, tn + dn)
end
local ms, mn = tparse(ARGV[4])
if tlt(ms, mn, ys, yn) then
  return {0, ns, nn, old or '', ''}
end
local tat = tfmt(ys, yn)
redis.call('SET', KEYS[1], tat, 'PX', int(ttl(ys, yn, ns, nn)))
return {1, ns, nn, old or '', tat}
