local id, now = ARGV[1], ARGV[2]
local k = P .. 't:' .. id
local st = redis.call('HGET', k, 'st')
if not st then return 'NF' end
if st == '0' then
  finish(k, id, '5', now)
elseif st ~= '5' then
  return refused(k)
end
return redis.call('HGETALL', k)
