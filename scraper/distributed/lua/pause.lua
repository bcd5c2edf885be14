-- Hold every request to the host for a while (the server sent Retry-After).
-- KEYS: [1] the host's state. ARGV: [1] ms to hold, [2] idle ttl ms
local now = redis.call("TIME")
-- Rounded up: the delay counts from no earlier than the real instant (acquire rounds "now" down).
now = tonumber(now[1]) * 1000 + math.ceil(tonumber(now[2]) / 1000)
local state = KEYS[1]
local paused = tonumber(redis.call("HGET", state, "paused_until") or "0")
redis.call("HSET", state, "paused_until", math.max(paused, now + tonumber(ARGV[1])))
redis.call("PEXPIRE", state, ARGV[2])
return 1
