-- May this fetch send its next request to the host now? Politeness shared by every worker process.
-- KEYS: [1] the host's state (hash: last, pending, pending_until, paused_until), [2] its fetch slots (zset)
-- ARGV: [1] token of this fetch, [2] delay ms, [3] concurrency, [4] slot ttl ms, [5] pending ttl ms,
--       [6] idle ttl ms, [7] "slot" to take a fetch slot only, "send" for the turn to send a request
-- Returns 0 when granted (the fetch then holds a slot, and for "send" the host's one pending send), else the
-- ms to wait before asking again.
-- Times are Redis's own clock, the one clock every worker shares.
local now = redis.call("TIME")
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local state, slots, token = KEYS[1], KEYS[2], ARGV[1]
local delay, concurrency = tonumber(ARGV[2]), tonumber(ARGV[3])

-- A fetch that died keeps its slot until the slot's ttl ends.
redis.call("ZREMRANGEBYSCORE", slots, "-inf", now)
local last = tonumber(redis.call("HGET", state, "last") or "")
local held = redis.call("ZSCORE", slots, token)
if not held then
    if redis.call("ZCARD", slots) >= concurrency then
        -- Full: ask again when a slot may have freed, and no sooner than the next request may go.
        return math.max(25, (last or 0) + delay - now)
    end
    redis.call("ZADD", slots, now + tonumber(ARGV[4]), token)
    redis.call("PEXPIRE", slots, ARGV[6])
end
if ARGV[7] == "slot" then
    return 0
end

-- One request at a time between being granted and being on the wire: the next one is timed from
-- when this one was really sent (its confirm), not from when it was granted.
local pending = redis.call("HGET", state, "pending")
if pending and pending ~= token then
    local pending_until = tonumber(redis.call("HGET", state, "pending_until") or "0")
    if pending_until > now then
        return math.max(1, math.min(pending_until - now, delay))
    end
end

local paused = tonumber(redis.call("HGET", state, "paused_until") or "0")
local ready = paused
if last then
    ready = math.max(ready, last + delay)
end
if ready > now then
    return ready - now
end

redis.call("HSET", state, "pending", token, "pending_until", now + tonumber(ARGV[5]))
redis.call("PEXPIRE", state, ARGV[6])
return 0
