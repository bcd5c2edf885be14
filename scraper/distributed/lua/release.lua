-- The fetch is over: give back its slot; a request granted but never confirmed counts as sent now.
-- KEYS: [1] the host's state, [2] its fetch slots. ARGV: [1] token of the fetch, [2] idle ttl ms
local state, slots, token = KEYS[1], KEYS[2], ARGV[1]
redis.call("ZREM", slots, token)
if redis.call("HGET", state, "pending") == token then
    local now = redis.call("TIME")
    -- Rounded up: the delay counts from no earlier than the real instant (acquire rounds "now" down).
    now = tonumber(now[1]) * 1000 + math.ceil(tonumber(now[2]) / 1000)
    redis.call("HDEL", state, "pending", "pending_until")
    local last = tonumber(redis.call("HGET", state, "last") or "0")
    redis.call("HSET", state, "last", math.max(last, now))
    redis.call("PEXPIRE", state, ARGV[2])
end
return 1
