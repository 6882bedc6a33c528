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

-- tmul returns k × (ws, wn), exactly for |k| < 2^43 and |k × ws| < 2^53: wn < 2^30, so kl × wn
-- and kh × wn (kh < 2^23) are exact, and so is each step of carrying kh × wn × 2^20.
local function tmul(k, ws, wn)
  local kh = math.floor(k / 1048576)
  local kl = k - kh * 1048576
  local as, an = tnorm(0, kh * wn)
  as, an = tnorm(as * 1048576, an * 1048576)
  return tnorm(as + k * ws, an + kl * wn)
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

-- civil returns the year and month (UTC) of a day counted from 1970-01-01, and days the day
-- number of the first of a month: H. Hinnant's civil_from_days and days_from_civil, as Go's
-- time package counts (proleptic Gregorian, no leap seconds).
local function civil(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local y, m = yoe + era * 400, mp + 3
  if mp >= 10 then
    y, m = y + 1, mp - 9
  end
  return y, m
end

local function days(y, m)
  if m <= 2 then
    y = y - 1
  end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m + 9
  if m > 2 then
    mp = m - 3
  end
  local doy = math.floor((153 * mp + 2) / 5)
  return era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
end

-- window returns the start and end of the window containing now. ARGV[i] is 'm' (the UTC
-- calendar month) or 'e' (epoch aligned: ARGV[i+1] is the start of the window the app's
-- clock is in, ARGV[i+2] the window length). With the app's clock the answer is the window
-- the app computed; with the server's clock it is found from there, exactly, for a skew of up
-- to 2^43 windows (278 years of 1 ms windows). Beyond, window returns nil.
local function window(ns, nn, i)
  if ARGV[i] == 'm' then
    local y, m = civil(math.floor(ns / 86400))
    local ny, nm = y, m + 1
    if nm == 13 then
      ny, nm = y + 1, 1
    end
    return days(y, m) * 86400, 0, days(ny, nm) * 86400, 0
  end
  local ss, sn = tparse(ARGV[i + 1])
  local ws, wn = tparse(ARGV[i + 2])
  -- An estimate of how many windows away now is (inexact beyond 2^53 ns, off by a few windows
  -- at most), then exact corrections one window at a time.
  local k = math.floor(tdiff(ns, nn, ss, sn) / (ws * E9 + wn))
  if k ~= 0 then
    if math.abs(k) >= 8796093022208 then -- 2^43
      return nil
    end
    local ks, kn = tmul(k, ws, wn)
    ss, sn = tnorm(ss + ks, sn + kn)
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

-- catchup returns the time a fixed or sliding window decision is taken at, as core's catchUp:
-- now, or the stored window's start w (decimal nanoseconds, or nil when there is no state)
-- when it is after now. Shared state never goes back in time: a caller whose clock is behind
-- the instance that wrote the state is counted against that newer window instead of resetting
-- it to an older one.
local function catchup(w, ns, nn)
  if w then
    local xs, xn = tparse(w)
    if tlt(ns, nn, xs, xn) then
      return xs, xn
    end
  end
  return ns, nn
end
