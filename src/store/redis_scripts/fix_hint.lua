local topic, field, seen, min = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local gen = redis.call('HGET', KEYS[2], field) or '0'
if gen == seen then
  if min == '' then
    redis.call('ZREM', KEYS[1], topic)
  else
    redis.call('ZADD', KEYS[1], min, topic)
  end
elseif min ~= '' then
  redis.call('ZADD', KEYS[1], 'LT', min, topic)
end
return 1
