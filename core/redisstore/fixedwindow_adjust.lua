-- Fixed window adjustment (storekit.Adjust): add a signed delta to the count of the window
-- now is in, without a limit check, never below zero. KEYS[1]: the fixed window's hash
-- {w = window start, c = count}. ARGV: now | 'server', delta, the largest count the store
-- holds, window spec (see window).
-- Reply: {1 applied | 0 refused (the count would pass the largest count; nothing written),
-- now s, now ns, stored w or '', stored c or '', new w or '', new c or ''}.
local ns, nn = clock()
local delta, most = tonumber(ARGV[2]), tonumber(ARGV[3])
local st = redis.call('HMGET', KEYS[1], 'w', 'c')
-- core's catchUp, as in Take: a stored window newer than now is adjusted, never reset.
local as, an = catchup(st[1], ns, nn)
local ss, sn, es, en = window(as, an, 4)
if not ss then
  return redis.error_reply('tollgate: the server clock is too far from the app clock')
end
local start = tfmt(ss, sn)
local c = 0
if st[1] == start then
  c = tonumber(st[2]) or 0
end
-- Exact: |c| and |delta| are at most the largest count, 2^52 (the Go side refuses a larger
-- delta), so the sum stays within 2^53.
c = c + delta
if c < 0 then
  c = 0
end
if c > most then
  return {0, ns, nn, st[1] or '', st[2] or '', '', ''}
end
redis.call('HSET', KEYS[1], 'w', start, 'c', int(c))
redis.call('PEXPIRE', KEYS[1], int(ttl(es, en, ns, nn)))
return {1, ns, nn, st[1] or '', st[2] or '', start, int(c)}
