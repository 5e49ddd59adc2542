local id, now = ARGV[1], ARGV[2]
local answer, k, kind = in_state(id, '4')
if answer then return answer end
redis.call('HSET', k, 'st', '0', 'att', '0', 'due', now, 'fin', '0')
redis.call('ZREM', P .. 'dead', pad(id))
redis.call('ZREM', P .. 'fin', id)
due_again(kind, now, id)
count('4', '0')
return redis.call('HGETALL', k)
