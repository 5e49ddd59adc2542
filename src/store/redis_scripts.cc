#include "store/redis_scripts.h"

#include <string>

namespace delayq::store::redis_scripts {

namespace {

// Shared by the per-topic scripts. Task hash fields: id due crt pl kind st att max fin tok lse
// js err dk cb (states and kinds as the digits of TaskState / DeliveryKind). An add writes
// only id due crt pl kind st max js, and dk cb when not empty: a missing field is at its
// zero value ('0' or ''), set when it changes. Half the fields make the add script ~20 %
// cheaper for Redis (BENCHMARKS.md, distributed mode), so readers must not assume them. Ids, tokens
// and times travel as decimal strings: Lua numbers are doubles, exact only to 2^53, which
// holds for milliseconds but not for 64-bit ids or tokens, so those are never converted.
constexpr const char* kPrelude = R"lua(
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
)lua";

const RedisScript& Make(const char* body) {
  // Leaked on purpose: scripts live as long as the process and are used from any thread.
  return *new RedisScript(std::string(kPrelude) + body);
}

}  // namespace

const RedisScript& Add() {
  static const RedisScript& script = Make(R"lua(
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
for i = 3, #ARGV, 11 do
  local id, due, crt, pl, kind = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local mx, js, dk, cb = ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8]
  local ix, ixf = ARGV[i + 9], ARGV[i + 10]  -- the id index hash and field (dq:ix:)
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
)lua");
  return script;
}

const RedisScript& Claim() {
  static const RedisScript& script = Make(R"lua(
local now, max, until_, mode, kind = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local L = lane(kind)
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
)lua");
  return script;
}

const RedisScript& ConsumeById() {
  static const RedisScript& script = Make(R"lua(
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
finish(k, id, '3', now)
return redis.call('HGETALL', k)
)lua");
  return script;
}

const RedisScript& Ack() {
  static const RedisScript& script = Make(R"lua(
local id, token, now = ARGV[1], ARGV[2], ARGV[3]
local k = P .. 't:' .. id
local f = redis.call('HMGET', k, 'st', 'tok')
if not f[1] then return 'NF' end
if (f[1] ~= '1' and f[1] ~= '2') or f[2] ~= token then return refused(k) end
finish(k, id, '3', now)
return redis.call('HGETALL', k)
)lua");
  return script;
}

const RedisScript& Nack() {
  static const RedisScript& script = Make(R"lua(
local id, token, retry_at, reason, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local k = P .. 't:' .. id
local f = redis.call('HMGET', k, 'st', 'tok', 'att', 'max', 'kind')
if not f[1] then return 'NF' end
if (f[1] ~= '1' and f[1] ~= '2') or f[2] ~= token then return refused(k) end
redis.call('HSET', k, 'err', reason)
if tonumber(f[4]) > 0 and tonumber(f[3] or '0') >= tonumber(f[4]) then
  finish(k, id, '4', now)
else
  redis.call('HSET', k, 'st', '0', 'due', retry_at, 'tok', '', 'lse', '0')
  due_again(f[5], retry_at, id)
  count(f[1], '0')
end
return redis.call('HGETALL', k)
)lua");
  return script;
}

const RedisScript& Extend() {
  static const RedisScript& script = Make(R"lua(
local id, token, until_, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local k = P .. 't:' .. id
local f = redis.call('HMGET', k, 'st', 'tok', 'lse', 'kind')
if not f[1] then return 'NF' end
if f[1] ~= '1' or f[2] ~= token then return refused(k) end
if tonumber(f[3] or '0') <= tonumber(now) then return refused(k) end
-- A leased task's lane score is its lease deadline (Claim takes it again once passed).
redis.call('HSET', k, 'lse', until_)
redis.call('ZADD', lane(f[4]), until_, id)
return redis.call('HGETALL', k)
)lua");
  return script;
}

const RedisScript& Cancel() {
  static const RedisScript& script = Make(R"lua(
local id, now = ARGV[1], ARGV[2]
local k = P .. 't:' .. id
local st = redis.call('HGET', k, 'st')
if not st then return 'NF' end
if st == '0' then
  finish(k, id, '5', now)
elseif st ~= '5' then
  return refused(k)
end
return redis.call('HGETALL', k)
)lua");
  return script;
}

const RedisScript& Reschedule() {
  static const RedisScript& script = Make(R"lua(
local id, due = ARGV[1], ARGV[2]
local k = P .. 't:' .. id
local f = redis.call('HMGET', k, 'st', 'kind')
if not f[1] then return 'NF' end
if f[1] ~= '0' then return refused(k) end
redis.call('HSET', k, 'due', due)
due_again(f[2], due, id)
return redis.call('HGETALL', k)
)lua");
  return script;
}

const RedisScript& Redrive() {
  static const RedisScript& script = Make(R"lua(
local id, now = ARGV[1], ARGV[2]
local k = P .. 't:' .. id
local f = redis.call('HMGET', k, 'st', 'kind')
if not f[1] then return 'NF' end
if f[1] ~= '4' then return refused(k) end
redis.call('HSET', k, 'st', '0', 'att', '0', 'due', now, 'fin', '0')
redis.call('ZREM', P .. 'dead', pad(id))
redis.call('ZREM', P .. 'fin', id)
due_again(f[2], now, id)
count('4', '0')
return redis.call('HGETALL', k)
)lua");
  return script;
}

const RedisScript& Purge() {
  static const RedisScript& script = Make(R"lua(
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
)lua");
  return script;
}

const RedisScript& Hint() {
  static const RedisScript& script = *new RedisScript(R"lua(
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
)lua");
  return script;
}

const RedisScript& FixHint() {
  static const RedisScript& script = *new RedisScript(R"lua(
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
)lua");
  return script;
}

const RedisScript& RenewNode() {
  static const RedisScript& script = *new RedisScript(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
)lua");
  return script;
}

}  // namespace delayq::store::redis_scripts
