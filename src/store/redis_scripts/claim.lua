local now, max, until_, mode, kind = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local L = lane(kind)
if redis.call('EXISTS', P .. 'paused') == 1 then
  -- A paused topic hands out nothing; its next-due entry stays as it is (too early is allowed).
  local first = redis.call('ZRANGE', L, 0, 0, 'WITHSCORES')
  return {first[2] or '', 0, {}}
end
local out, dead, got, scans = {}, 0, 0, 0
while got < max and scans < 4 do
  scans = scans + 1
  local ids = redis.call('ZRANGEBYSCORE', L, '-inf', now, 'LIMIT', 0, max - got)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local k = P .. 't:' .. id
    local f = redis.call('HMGET', k, 'st', 'att', 'max')
    local st = f[1]
    if not st or (st ~= '0' and st ~= '1' and st ~= '2') then
      redis.call('ZREM', L, id)
    elseif st ~= '0' and tonumber(f[3]) > 0 and tonumber(f[2] or '0') >= tonumber(f[3]) then
      -- An expired lease with no attempts left: dead, as a nack would make it.
      redis.call('HSET', k, 'err', 'lease expired with no attempts left')
      finish(k, id, '4', now)
      dead = dead + 1
    elseif mode == 'C' then
      redis.call('HINCRBY', k, 'att', 1)
      finish(k, id, '3', now)
      got = got + 1
      out[#out + 1] = redis.call('HGETALL', k)
    else
      got = got + 1
      local nst = '1'
      if kind == '1' then nst = '2' end
      redis.call('HSET', k, 'st', nst, 'tok', ARGV[5 + got], 'lse', until_)
      redis.call('HINCRBY', k, 'att', 1)
      redis.call('ZADD', L, until_, id)
      count(st, nst)
      out[#out + 1] = redis.call('HGETALL', k)
    end
  end
end
local first = redis.call('ZRANGE', L, 0, 0, 'WITHSCORES')
if KEYS[2] then
  -- A single server: set the next-due entry to what the lane holds now, atomically (the
  -- cluster path does this with FixHint and the generation check).
  local topic = string.sub(P, 5, -3)
  if first[2] then redis.call('ZADD', KEYS[2], first[2], topic) else redis.call('ZREM', KEYS[2], topic) end
end
return {first[2] or '', dead, out}
