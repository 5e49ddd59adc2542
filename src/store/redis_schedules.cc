// The Redis store's schedules. All schedule keys share the global hash tag, so each script
// runs on one node of a cluster, atomically:
//   dq:{dq}:sc:<name>      hash: v (version) t (topic) n (next_ms, "" for none) b (body)
//   dq:{dq}:sc-due         zset: name -> next_ms       [absent when next_ms is none]
//   dq:{dq}:sc-all         zset: name, score 0         [listing in name order]
//   dq:{dq}:sc-t:<topic>   zset: name, score 0         [listing by topic]
#include "store/redis_store_impl.h"

namespace delayq::store::redis {
namespace {

const std::string kRecordPrefix = kGlobal + "sc:";
const std::string kDue = kGlobal + "sc-due";
const std::string kAll = kGlobal + "sc-all";
const std::string kTopicPrefix = kGlobal + "sc-t:";

// KEYS record, due, all, topic set; ARGV name, expected version, topic, next ("" none), body,
// topic-set prefix -> new version | {"CF", current version}.
const RedisScript& PutScript() {
  static const RedisScript script(R"lua(
local cur = redis.call('HGET', KEYS[1], 'v')
if (cur or '0') ~= ARGV[2] then return {'CF', cur or '0'} end
local old_topic = redis.call('HGET', KEYS[1], 't')
if old_topic and old_topic ~= ARGV[3] then redis.call('ZREM', ARGV[6] .. old_topic, ARGV[1]) end
local v = tostring(tonumber(ARGV[2]) + 1)
redis.call('HSET', KEYS[1], 'v', v, 't', ARGV[3], 'n', ARGV[4], 'b', ARGV[5])
if ARGV[4] == '' then redis.call('ZREM', KEYS[2], ARGV[1])
else redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) end
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('ZADD', KEYS[4], 0, ARGV[1])
return v
)lua");
  return script;
}

// KEYS record, due, all; ARGV name, topic-set prefix -> 1 deleted | 0 none.
const RedisScript& DeleteScript() {
  static const RedisScript script(R"lua(
local topic = redis.call('HGET', KEYS[1], 't')
if not topic then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', ARGV[2] .. topic, ARGV[1])
return 1
)lua");
  return script;
}

// The records named by a range of a zset, flat: name v t n b, ...
constexpr const char* kReadNames = R"lua(
local out = {}
for _, name in ipairs(names) do
  local r = redis.call('HMGET', ARGV[1] .. name, 'v', 't', 'n', 'b')
  if r[1] then
    table.insert(out, name)
    for i = 1, 4 do table.insert(out, r[i]) end
  end
end
return out
)lua";

// KEYS listing zset; ARGV record prefix, after name ("" from the start), limit.
const RedisScript& ListScript() {
  static const RedisScript script(std::string(R"lua(
local from = '-'
if ARGV[2] ~= '' then from = '(' .. ARGV[2] end
local names = redis.call('ZRANGEBYLEX', KEYS[1], from, '+', 'LIMIT', 0, tonumber(ARGV[3]))
)lua") + kReadNames);
  return script;
}

// KEYS due; ARGV record prefix, now, limit.
const RedisScript& DueScript() {
  static const RedisScript script(std::string(R"lua(
local names = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
)lua") + kReadNames);
  return script;
}

std::string NextText(int64_t next_ms) {
  return next_ms == kNoDeadline ? std::string() : std::to_string(next_ms);
}

Result<std::vector<ScheduleRecord>> DecodeRecords(const RedisReply& reply) {
  std::vector<ScheduleRecord> out;
  if (reply.type != RedisReply::Type::kArray || reply.elements.size() % 5 != 0) {
    return Fail(Errc::kInternal, "schedules: unexpected reply from Redis");
  }
  for (size_t i = 0; i < reply.elements.size(); i += 5) {
    ScheduleRecord r;
    r.name = reply.elements[i].str;
    ParseNumber(reply.elements[i + 1].str, r.version);
    r.topic = reply.elements[i + 2].str;
    if (!reply.elements[i + 3].str.empty()) ParseNumber(reply.elements[i + 3].str, r.next_ms);
    r.body = reply.elements[i + 4].str;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

Result<std::optional<ScheduleRecord>> RedisStore::GetSchedule(std::string_view name) {
  std::string key = kRecordPrefix + std::string(name);
  auto reply = redis_->Run(RedisCommand{{"HMGET", key, "v", "t", "n", "b"}, key});
  if (!reply) return std::unexpected(reply.error());
  if (reply->IsError()) return std::unexpected(ReplyError(*reply, "get schedule"));
  if (reply->elements.size() != 4 || reply->elements[0].IsNil()) {
    return std::optional<ScheduleRecord>();
  }
  RedisReply flat;
  flat.type = RedisReply::Type::kArray;
  flat.elements.push_back(RedisReply{RedisReply::Type::kString, 0, std::string(name), {}});
  for (RedisReply& e : reply->elements) flat.elements.push_back(std::move(e));
  auto records = DecodeRecords(flat);
  if (!records) return std::unexpected(records.error());
  return std::optional<ScheduleRecord>(std::move(records->front()));
}

Result<uint64_t> RedisStore::PutSchedule(const ScheduleRecord& record, uint64_t expected_version) {
  auto reply = redis_->Run(ScriptCommand(
      PutScript(), {kRecordPrefix + record.name, kDue, kAll, kTopicPrefix + record.topic},
      {record.name, std::to_string(expected_version), record.topic, NextText(record.next_ms),
       record.body, kTopicPrefix}));
  if (!reply) return std::unexpected(reply.error());
  if (reply->IsError()) return std::unexpected(ReplyError(*reply, "put schedule"));
  if (reply->type == RedisReply::Type::kArray) {
    std::string current = reply->elements.size() == 2 ? reply->elements[1].str : "?";
    return Fail(Errc::kConflict,
                "schedule " + record.name + " changed meanwhile (version " + current + ")");
  }
  uint64_t version = 0;
  ParseNumber(reply->str, version);
  return version;
}

Result<bool> RedisStore::DeleteSchedule(std::string_view name) {
  auto reply =
      redis_->Run(ScriptCommand(DeleteScript(), {kRecordPrefix + std::string(name), kDue, kAll},
                                {std::string(name), kTopicPrefix}));
  if (!reply) return std::unexpected(reply.error());
  if (reply->IsError()) return std::unexpected(ReplyError(*reply, "delete schedule"));
  return reply->integer == 1;
}

Result<std::vector<ScheduleRecord>> RedisStore::ListSchedules(std::string_view topic,
                                                              std::string_view after_name,
                                                              size_t limit) {
  std::string set = topic.empty() ? kAll : kTopicPrefix + std::string(topic);
  auto reply = redis_->Run(ScriptCommand(
      ListScript(), {set}, {kRecordPrefix, std::string(after_name), std::to_string(limit)}));
  if (!reply) return std::unexpected(reply.error());
  if (reply->IsError()) return std::unexpected(ReplyError(*reply, "list schedules"));
  return DecodeRecords(*reply);
}

Result<std::vector<ScheduleRecord>> RedisStore::DueSchedules(int64_t now_ms, size_t limit) {
  auto reply = redis_->Run(ScriptCommand(
      DueScript(), {kDue}, {kRecordPrefix, std::to_string(now_ms), std::to_string(limit)}));
  if (!reply) return std::unexpected(reply.error());
  if (reply->IsError()) return std::unexpected(ReplyError(*reply, "due schedules"));
  return DecodeRecords(*reply);
}

Result<int64_t> RedisStore::NextScheduleMs() {
  auto reply = redis_->Run(RedisCommand{{"ZRANGE", kDue, "0", "0", "WITHSCORES"}, kDue});
  if (!reply) return std::unexpected(reply.error());
  if (reply->IsError()) return std::unexpected(ReplyError(*reply, "next schedule"));
  if (reply->elements.size() < 2) return kNoDeadline;
  return static_cast<int64_t>(std::stod(reply->elements[1].str));
}

}  // namespace delayq::store::redis
