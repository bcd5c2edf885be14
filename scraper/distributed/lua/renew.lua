-- Extend a lease (or with ARGV[2] = 0, give it up) if this holder has it, or take it again if it lapsed
-- meanwhile with nobody else taking it (Redis restarted while the holder waited).
-- KEYS: [1] the lease. ARGV: [1] holder, [2] ttl ms (0: release)
local current = redis.call("GET", KEYS[1])
if tonumber(ARGV[2]) == 0 then
    if current == ARGV[1] then
        redis.call("DEL", KEYS[1])
    end
    return 1
end
if current and current ~= ARGV[1] then
    return 0
end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return 1
