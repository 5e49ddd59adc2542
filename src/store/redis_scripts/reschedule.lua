local id, due = ARGV[1], ARGV[2]
local answer, k, kind = in_state(id, '0')
if answer then return answer end
redis.call('HSET', k, 'due', due)
due_again(kind, due, id)
return redis.call('HGETALL', k)
