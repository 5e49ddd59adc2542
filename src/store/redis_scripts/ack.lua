local id, token, now = ARGV[1], ARGV[2], ARGV[3]
local k = P .. 't:' .. id
local f = redis.call('HMGET', k, 'st', 'tok')
if not f[1] then return 'NF' end
if (f[1] ~= '1' and f[1] ~= '2') or f[2] ~= token then return refused(k) end
finish(k, id, '3', now)
return redis.call('HGETALL', k)
