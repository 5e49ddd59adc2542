local ids = redis.call('ZRANGEBYSCORE', P .. 'fin', '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  local k = P .. 't:' .. id
  local f = redis.call('HMGET', k, 'st', 'dk')
  if f[1] then
    if f[2] and f[2] ~= '' and redis.call('HGET', P .. 'dedup', f[2]) == id then
      redis.call('HDEL', P .. 'dedup', f[2])
    end
    count(f[1], nil)
    redis.call('DEL', k)
  end
  redis.call('ZREM', P .. 'fin', id)
  redis.call('ZREM', P .. 'dead', pad(id))
end
return ids
