local id, now = ARGV[1], ARGV[2]
local k = P .. 't:' .. id
local f = redis.call('HMGET', k, 'st', 'kind', 'due', 'lse')
if not f[1] or f[2] ~= '0' then return 'NF' end
if f[1] == '0' then
  if tonumber(f[3]) > tonumber(now) then return 'ND' end
elseif f[1] == '1' then
  if tonumber(f[4] or '0') > tonumber(now) then return 'NF' end
else
  return 'NF'
end
if redis.call('EXISTS', P .. 'paused') == 1 then return 'PA' end
finish(k, id, '3', now)
return redis.call('HGETALL', k)
