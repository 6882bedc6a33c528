-- Sliding window (two counters). KEYS[1]: hash {w = window start, c = its count, p = the
-- previous window's count}. ARGV: now | 'server', cost, limit, 'e', app window start, window.
-- Reply: {allowed, now s, now ns, stored w, c, p or ''}.
local ns, nn = clock()
local cost, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local st = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
-- core's catchUp: a stored window newer than now is never reset; the decision is taken at
-- its start (as, an), where the previous window still weighs in full.
local as, an = catchup(st[1], ns, nn)
local ss, sn = window(as, an, 4)
if not ss then
  return redis.error_reply('tollgate: the server clock is too far from the app clock')
end
local ws, wn = tparse(ARGV[6])
local start = tfmt(ss, sn)
local curr, prev = 0, 0
if st[1] == start then
  curr, prev = tonumber(st[2]) or 0, tonumber(st[3]) or 0
elseif st[1] and st[1] == tfmt(tnorm(ss - ws, sn - wn)) then
  prev = tonumber(st[2]) or 0
end
-- storekit.SlidingWeight: floor(prev * (w - elapsed) / w) in doubles, in that order, from w
-- and elapsed each rounded to the nearest double once, as Go's float64(int64) does: w by
-- tonumber of its decimal string, elapsed below.
local weighted = 0
if prev > 0 then
  local w = tonumber(ARGV[6])
  local ds, dn = tnorm(as - ss, an - sn)
  -- ds × 1e9 is exact (1e9 = 2^9 × 1953125, and ds × 1953125 < 2^53 for any window up to
  -- core's ten years), so elapsed is rounded once, in the addition: as float64(now-start).
  local e = ds * E9 + dn
  weighted = math.floor(prev * (w - e) / w)
end
local ok = 0
if weighted + curr + cost <= limit then
  ok = 1
  if cost > 0 then
    redis.call('HSET', KEYS[1], 'w', start, 'c', int(curr + cost), 'p', int(prev))
    -- The count still weighs during the next window.
    local xs, xn = tnorm(ss + 2 * ws, sn + 2 * wn)
    redis.call('PEXPIRE', KEYS[1], int(ttl(xs, xn, ns, nn)))
  end
end
return {ok, ns, nn, st[1] or '', st[2] or '', st[3] or ''}
