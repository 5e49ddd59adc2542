-- The first ARGV[2] dead tasks of the topic (dead index order: by id) redriven (ARGV[1]
-- 'redrive', due at ARGV[3], as redrive.lua) or deleted ('delete', as purge.lua). Answers
-- {count, more (0/1), handled ids...}. An index entry whose task is gone or no longer dead is
-- dropped, not counted.
local op, limit, now = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local members = redis.call('ZRANGE', P .. 'dead', 0, limit - 1)
local out = {0, 0}
for _, member in ipairs(members) do
  local id = string.gsub(member, '^0+', '')
  local k = P .. 't:' .. id
  local f = redis.call('HMGET', k, 'st', 'kind', 'dk')
  redis.call('ZREM', P .. 'dead', member)
  if f[1] == '4' then
    redis.call('ZREM', P .. 'fin', id)
    if op == 'redrive' then
      redis.call('HSET', k, 'st', '0', 'att', '0', 'due', now, 'fin', '0')
      due_again(f[2] or '0', now, id)
      count('4', '0')
    else
      if f[3] and f[3] ~= '' and redis.call('HGET', P .. 'dedup', f[3]) == id then
        redis.call('HDEL', P .. 'dedup', f[3])
      end
      count('4', nil)
      redis.call('DEL', k)
    end
    out[1] = out[1] + 1
    out[#out + 1] = id
  end
end
if redis.call('ZCARD', P .. 'dead') > 0 then out[2] = 1 end
return out
