-- ARGV[1] 'S': a single server, where this script also does what the cluster path does in
-- separate commands around it (the id index keys, the next-due index, the generation, the
-- topic set, the max id), atomically. KEYS[2..6] are then next:p next:c gen topics maxid.
local single, maxid = ARGV[1] == 'S', ARGV[2]
local topic = string.sub(P, 5, -3)
local out, earliest, added = {}, {}, 0
-- Lane entries and index fields are gathered and written with one command per lane and per
-- index hash: one ZADD of 20 members costs less than 20 calls (~8 % of the script).
local lanes, index = {}, {}
local function push(map, key, a, b)
  local list = map[key]
  if not list then
    list = {}
    map[key] = list
  end
  list[#list + 1] = a
  list[#list + 1] = b
end
for i = 3, #ARGV, 13 do
  local id, due, crt, pl, kind = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local mx, js, dk, cb = ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8]
  local ix, ixf = ARGV[i + 9], ARGV[i + 10]  -- the id index hash and field (dq:ix:)
  local tp, ts = ARGV[i + 11], ARGV[i + 12]  -- trace context: traceparent, tracestate
  local existing = false
  if dk ~= '' then
    local ex = redis.call('HGET', P .. 'dedup', dk)
    if ex and redis.call('EXISTS', P .. 't:' .. ex) == 1 then existing = ex end
  end
  if existing then
    out[#out + 1] = existing
  else
    local k = P .. 't:' .. id
    redis.call('HSET', k, 'id', id, 'due', due, 'crt', crt, 'pl', pl, 'kind', kind, 'st', '0', 'max', mx, 'js', js)
    if cb ~= '' then redis.call('HSET', k, 'cb', cb) end
    if tp ~= '' then redis.call('HSET', k, 'tp', tp) end
    if ts ~= '' then redis.call('HSET', k, 'ts', ts) end
    if dk ~= '' then
      redis.call('HSET', k, 'dk', dk)
      redis.call('HSET', P .. 'dedup', dk, id)
    end
    push(lanes, lane(kind), due, id)
    added = added + 1
    if single then
      push(index, ix, ixf, kind .. topic)
      if not earliest[kind] or tonumber(due) < tonumber(earliest[kind]) then earliest[kind] = due end
    end
    out[#out + 1] = id
  end
end
-- unpack() is bounded by Lua's C stack (8,000 values): written in chunks.
for _, map in ipairs({{'ZADD', lanes}, {'HSET', index}}) do
  for key, list in pairs(map[2]) do
    for s = 1, #list, 1000 do redis.call(map[1], key, unpack(list, s, math.min(s + 999, #list))) end
  end
end
if added > 0 then redis.call('HINCRBY', P .. 'n', '0', added) end
if single then
  for kind, due in pairs(earliest) do
    local z = KEYS[2]
    if kind == '1' then z = KEYS[3] end
    redis.call('ZADD', z, 'LT', due, topic)
    redis.call('HINCRBY', KEYS[4], kind .. ':' .. topic, 1)
  end
  redis.call('SADD', KEYS[5], topic)
  local cur = redis.call('GET', KEYS[6])
  if not cur or #cur < #maxid or (#cur == #maxid and cur < maxid) then redis.call('SET', KEYS[6], maxid) end
end
return out
