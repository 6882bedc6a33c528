-- Fixed window. KEYS[1]: hash {w = window start, c = count}.
-- ARGV: now | 'server', cost, limit, window spec (see window).
-- Reply: {allowed, now s, now ns, stored w or '', stored c or ''}. The TTL and the reply's now
-- are the caller's clock, so durations (computed by the Go side) are on it too.
local ns, nn = clock()
local cost, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local st = redis.call('HMGET', KEYS[1], 'w', 'c')
-- core's catchUp: a stored window newer than now (written by an instance whose clock is
-- ahead) is never reset; the decision is taken at its start.
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
local ok = 0
if c + cost <= limit then
  ok = 1
  if cost > 0 then
    redis.call('HSET', KEYS[1], 'w', start, 'c', int(c + cost))
    redis.call('PEXPIRE', KEYS[1], int(ttl(es, en, ns, nn)))
  end
end
return {ok, ns, nn, st[1] or '', st[2] or ''}
