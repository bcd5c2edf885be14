-- Keep this fetch's slot while it runs: a worker that dies stops renewing it, and the slot frees soon after.
-- KEYS: [1] the host's fetch slots. ARGV: [1] token of the fetch, [2] slot ttl ms
local now = redis.call("TIME")
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
return redis.call("ZADD", KEYS[1], "XX", now + tonumber(ARGV[2]), ARGV[1])
