local bump, maxid = ARGV[1], ARGV[2]
if maxid ~= '' then
  local cur = redis.call('GET', KEYS[5])
  if not cur or #cur < #maxid or (#cur == #maxid and cur < maxid) then
    redis.call('SET', KEYS[5], maxid)
  end
end
for i = 3, #ARGV, 3 do
  local kind, topic, score = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local z = KEYS[1]
  if kind == '1' then z = KEYS[2] end
  redis.call('ZADD', z, 'LT', score, topic)
  if bump == '1' then
    redis.call('HINCRBY', KEYS[3], kind .. ':' .. topic, 1)
  else
    redis.call('SADD', KEYS[4], topic)
  end
end
return 1
