-- Sliding window adjustment (storekit.Adjust): add a signed delta to the current window's
-- count, without a limit check, never below zero; the previous window's count is kept.
-- KEYS[1]: the sliding window's hash {w, c, p}. ARGV: now | 'server', delta, the largest
-- count the store holds, 'e', app window start, window.
-- Reply: {1 applied | 0 refused (the count would pass the largest count; nothing written),
-- now s, now ns, stored w, c, p or '', new w, c, p or ''}.
local ns, nn = clock()
local delta, most = tonumber(ARGV[2]), tonumber(ARGV[3])
local st = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
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
-- Exact: |curr| and |delta| are at most the largest count, 2^52.
curr = curr + delta
if curr < 0 then
  curr = 0
end
if curr > most then
  return {0, ns, nn, st[1] or '', st[2] or '', st[3] or '', '', '', ''}
end
redis.call('HSET', KEYS[1], 'w', start, 'c', int(curr), 'p', int(prev))
local xs, xn = tnorm(ss + 2 * ws, sn + 2 * wn)
redis.call('PEXPIRE', KEYS[1], int(ttl(xs, xn, ns, nn)))
return {1, ns, nn, st[1] or '', st[2] or '', st[3] or '', start, int(curr), int(prev)}
