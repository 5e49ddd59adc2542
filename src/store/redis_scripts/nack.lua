local id, token, retry_at, reason, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local k = P .. 't:' .. id
local f = redis.call('HMGET', k, 'st', 'tok', 'att', 'max', 'kind')
if not f[1] then return 'NF' end
if (f[1] ~= '1' and f[1] ~= '2') or f[2] ~= token then return refused(k) end
redis.call('HSET', k, 'err', reason)
if tonumber(f[4]) > 0 and tonumber(f[3] or '0') >= tonumber(f[4]) then
  finish(k, id, '4', now)
else
  redis.call('HSET', k, 'st', '0', 'due', retry_at, 'tok', '', 'lse', '0')
  due_again(f[5], retry_at, id)
  count(f[1], '0')
end
return redis.call('HGETALL', k)
