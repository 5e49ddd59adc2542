local id, token, until_, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local k = P .. 't:' .. id
local f = redis.call('HMGET', k, 'st', 'tok', 'lse', 'kind')
if not f[1] then return 'NF' end
if f[1] ~= '1' or f[2] ~= token then return refused(k) end
if tonumber(f[3] or '0') <= tonumber(now) then return refused(k) end
-- A leased task's lane score is its lease deadline (Claim takes it again once passed).
redis.call('HSET', k, 'lse', until_)
redis.call('ZADD', lane(f[4]), until_, id)
return redis.call('HGETALL', k)
