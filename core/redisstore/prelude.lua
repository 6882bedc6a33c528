-- Shared by every tollgate script (prepended by scripts.go).
--
-- Lua numbers are IEEE doubles: integers are exact only up to 2^53, and a Unix time in
-- nanoseconds (about 1.8e18) is far above that. So a time or a duration is handled as a pair
-- (s, n): whole seconds and nanoseconds 0 <= n < 1e9, each well inside 2^53, and every
-- comparison and sum below is exact. Times travel (ARGV, stored values, replies) as decimal
-- nanoseconds, which tparse splits and tfmt joins without ever building the large number.
local E9 = 1000000000

-- int formats an integer for a Redis command. A Lua number passed as is would be formatted by
-- the server, and Redis 7.2 writes 10000000 as "1e+7", which PEXPIRE and a later parse refuse.
local function int(x)
  return string.format('%d', x)
end

-- tnorm carries n into s so that 0 <= n < 1e9 (exact for |n| < 2^53).
local function tnorm(s, n)
  local c = math.floor(n / E9)
  n = n - c * E9
  if n < 0 then
    c, n = c - 1, n + E9
  elseif n >= E9 then
    c, n = c + 1, n - E9
  end
  return s + c, n
end

-- tlt reports a < b.
local function tlt(as, an, bs, bn)
  return as < bs or (as == bs and an < bn)
end

-- tdiff returns a - b in nanoseconds: exact while |a - b| < 2^53 ns (104 days).
local function tdiff(as, an, bs, bn)
  return (as - bs) * E9 + (an - bn)
end

-- tfmt writes a non-negative time as decimal nanoseconds; tparse reads one back.
local function tfmt(s, n)
  if s == 0 then
    return string.format('%d', n)
  end
  return string.format('%d%09d', s, n)
end

local function tparse(v)
  if #v <= 9 then
    return 0, tonumber(v)
  end
  return tonumber(string.sub(v, 1, -10)), tonumber(string.sub(v, -9))
end

-- ttl returns the relative TTL, in milliseconds, of state that stops mattering at e when it is
-- now: rounded up, plus a slack for clock skew between instances. Relative (PEXPIRE), never
-- absolute, so the caller's clock, not the server's, says when state is stale.
local function ttl(es, en, ns, nn)
  return (es - ns) * 1000 + math.ceil((en - nn) / 1000000) + 1000
end

-- clock returns now: ARGV[1] in decimal nanoseconds, or the server's TIME when ARGV[1] is
-- 'server' (microsecond resolution).
local function clock()
  if ARGV[1] == 'server' then
    if redis.replicate_commands then
      -- Redis 3.2 to 4 replicate a script that reads TIME only as its effects.
      redis.replicate_commands()
    end
    local t = redis.call('TIME')
    return tonumber(t[1]), tonumber(t[2]) * 1000
  end
  return tparse(ARGV[1])
end

-- window returns the start and end of the window containing now. ARGV[i] is 'e' (epoch
-- aligned: ARGV[i+1] is the start of the window the app's clock is in, ARGV[i+2] the window
-- length) or 'm' (calendar months: ARGV[i+1..i+4] are four consecutive month starts around
-- the app's clock). With the app's clock the answer is the window the app computed; with the
-- server's clock it is found from there, exactly, whatever the skew (months: up to a month).
local function window(ns, nn, i)
  if ARGV[i] == 'm' then
    for j = i + 1, i + 3 do
      local as, an = tparse(ARGV[j])
      local bs, bn = tparse(ARGV[j + 1])
      if not tlt(ns, nn, as, an) and tlt(ns, nn, bs, bn) then
        return as, an, bs, bn
      end
    end
    return nil
  end
  local ss, sn = tparse(ARGV[i + 1])
  local ws, wn = tparse(ARGV[i + 2])
  -- An estimate of how many windows away now is, then exact corrections.
  local k = math.floor(tdiff(ns, nn, ss, sn) / (ws * E9 + wn))
  if k ~= 0 then
    ss, sn = tnorm(ss + k * ws, sn + k * wn)
  end
  while tlt(ns, nn, ss, sn) do
    ss, sn = tnorm(ss - ws, sn - wn)
  end
  local es, en = tnorm(ss + ws, sn + wn)
  while not tlt(ns, nn, es, en) do
    ss, sn = es, en
    es, en = tnorm(es + ws, en + wn)
  end
  return ss, sn, es, en
end
