-- Concurrency leases. KEYS[1]: sorted set, lease id -> expiry in whole milliseconds (for
-- ordering and range pruning); KEYS[2]: hash, lease id -> exact expiry in nanoseconds.
-- ARGV: now | 'server', op ('a' acquire, 'r' release, 'e' extend), lease id, limit, lease
-- duration, the longest retry hint.
-- Reply: {ok, leases held after, retry after ns, now s, now ns}.
local ns, nn = clock()
local z, h = KEYS[1], KEYS[2]
local op, id = ARGV[2], ARGV[3]
if op == 'r' then
  redis.call('ZREM', z, id)
  redis.call('HDEL', h, id)
  return {1, 0, 0, ns, nn}
end

local function ms(s, n)
  return s * 1000 + math.floor(n / 1000000)
end

local function expiry(lid)
  local v = redis.call('HGET', h, lid)
  if not v then
    return nil
  end
  return tparse(v)
end

-- Drop every lease whose expiry is at or before now (core.AcquireLease does so first).
for _, lid in ipairs(redis.call('ZRANGEBYSCORE', z, '-inf', int(ms(ns, nn)))) do
  local es, en = expiry(lid)
  if not es or not tlt(ns, nn, es, en) then
    redis.call('ZREM', z, lid)
    redis.call('HDEL', h, lid)
  end
end

local held = redis.call('ZSCORE', z, id)
local count = redis.call('ZCARD', z)
if op == 'e' and not held then
  return {0, count, 0, ns, nn}
end
if held or count < tonumber(ARGV[4]) then
  local ls, ln = tparse(ARGV[5])
  local es, en = tnorm(ns + ls, nn + ln)
  redis.call('ZADD', z, int(ms(es, en)), id)
  redis.call('HSET', h, id, tfmt(es, en))
  if not held then
    count = count + 1
  end
  local xs, xn = expiry(redis.call('ZRANGE', z, -1, -1)[1])
  if not xs then
    xs, xn = es, en
  end
  local t = int(ttl(xs, xn, ns, nn))
  redis.call('PEXPIRE', z, t)
  redis.call('PEXPIRE', h, t)
  return {1, count, 0, ns, nn}
end

-- Denied: the retry hint is the earliest expiry, capped. Leases in the same millisecond are
-- ordered by id in the sorted set, so the exact earliest is found among them.
local cap = tonumber(ARGV[6])
local fs, fn = expiry(redis.call('ZRANGE', z, 0, 0)[1])
if not fs then
  return {0, count, cap, ns, nn}
end
local m = int(ms(fs, fn))
for _, lid in ipairs(redis.call('ZRANGEBYSCORE', z, m, m)) do
  local es, en = expiry(lid)
  if es and tlt(es, en, fs, fn) then
    fs, fn = es, en
  end
end
local retry = cap
if fs - ns <= 2 then
  retry = math.min(tdiff(fs, fn, ns, nn), cap)
end
return {0, count, retry, ns, nn}
