-- The request granted to this fetch is on the wire (or ended without one): the host's delay counts from now.
-- KEYS: [1] the host's state. ARGV: [1] token of the fetch, [2] idle ttl ms
local now = redis.call("TIME")
-- Rounded up: the delay counts from no earlier than the real instant (acquire rounds "now" down).
now = tonumber(now[1]) * 1000 + math.ceil(tonumber(now[2]) / 1000)
local state, token = KEYS[1], ARGV[1]
if redis.call("HGET", state, "pending") == token then
    redis.call("HDEL", state, "pending", "pending_until")
end
local last = tonumber(redis.call("HGET", state, "last") or "0")
redis.call("HSET", state, "last", math.max(last, now))
redis.call("PEXPIRE", state, ARGV[2])
return now
