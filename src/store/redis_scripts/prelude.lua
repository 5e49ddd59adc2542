-- Shared by the per-topic scripts. Task hash fields: id due crt pl kind st att max fin tok lse
-- js err dk cb tp ts (states and kinds as the digits of TaskState / DeliveryKind; tp ts the
-- trace context). An add writes only id due crt pl kind st max js, and dk cb tp ts when not
-- empty: a missing field is at its zero value ('0' or ''), set when it changes. Half the
-- fields make the add script ~20 % cheaper for Redis (BENCHMARKS.md, distributed mode), so
-- readers must not assume them. Ids, tokens and times travel as decimal strings: Lua numbers
-- are doubles, exact only to 2^53, which holds for milliseconds but not for 64-bit ids or
-- tokens, so those are never converted.
local P = KEYS[1]
local function pad(id) return string.rep('0', 20 - #id) .. id end
local function lane(kind) if kind == '1' then return P .. 'due:c' end return P .. 'due:p' end
local function count(from, to)
  if from then redis.call('HINCRBY', P .. 'n', from, -1) end
  if to then redis.call('HINCRBY', P .. 'n', to, 1) end
end
-- A task due again (nack, reschedule, redrive). On a single server the scripts get KEYS
-- next:p next:c gen as KEYS[2..4] and keep the next-due index themselves, atomically; in a
-- cluster the caller does it around the script (the hint protocol).
local function due_again(kind, score, id)
  redis.call('ZADD', lane(kind), score, id)
  if KEYS[4] then
    local topic = string.sub(P, 5, -3)
    local z = KEYS[2]
    if kind == '1' then z = KEYS[3] end
    redis.call('ZADD', z, 'LT', score, topic)
    redis.call('HINCRBY', KEYS[4], kind .. ':' .. topic, 1)
  end
end
-- A refused call answers the code and the task as it is; the C++ side words the refusal
-- (queue/transitions.h), so both backends say the same.
local function refused(k) return {'CF', redis.call('HGETALL', k)} end
local function finish(k, id, st, now)
  local f = redis.call('HMGET', k, 'st', 'kind')
  redis.call('HSET', k, 'st', st, 'fin', now, 'tok', '', 'lse', '0')
  redis.call('ZREM', lane(f[2]), id)
  redis.call('ZADD', P .. 'fin', now, id)
  if st == '4' then redis.call('ZADD', P .. 'dead', 0, pad(id)) end
  count(f[1], st)
end
-- Task `id` when it is in state `want`: nil, its key and kind. Otherwise the answer to give:
-- 'NF' when there is no such task, the refusal when it is in another state.
local function in_state(id, want)
  local k = P .. 't:' .. id
  local f = redis.call('HMGET', k, 'st', 'kind')
  if not f[1] then return 'NF' end
  if f[1] ~= want then return refused(k) end
  return nil, k, f[2]
end
