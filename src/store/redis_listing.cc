// Reading the Redis store's lanes by range: a topic's scheduled tasks page by page
// (list_due.lua) and the due horizon (horizon.lua: ZCOUNT per bucket). Each topic's lanes
// are its own sorted sets, so a page reads only that topic's entries.

#include <set>

#include "store/redis_store_impl.h"

namespace delayq::store::redis {

namespace {

// The overall horizon counts at most this many topics (one script of 2 × (buckets + 1)
// ZCOUNTs each): those whose next-due entry falls in the span, earliest first.
constexpr size_t kHorizonMaxTopics = 200;

std::string ScoreText(int64_t ms) {
  return ms == kNoDeadline ? std::string("+inf") : std::to_string(std::max<int64_t>(ms, 0));
}

}  // namespace

Result<ScheduledPage> RedisStore::ListScheduled(const ScheduledQuery& query) {
  ScheduledPage page;
  int64_t from = std::max<int64_t>(query.from_ms, 0);
  std::string after;
  if (query.after && query.after->due_at_ms >= from) {
    from = query.after->due_at_ms;
    after = std::to_string(query.after->id);
  }
  if (from >= query.to_ms || query.limit == 0) return page;
  std::string to = query.to_ms == kNoDeadline ? "inf" : std::to_string(query.to_ms);
  auto reply =
      redis_->Run(ScriptCommand(scripts::ListDue(), {Prefix(query.topic)},
                                {std::to_string(from), after, to, std::to_string(query.limit),
                                 std::to_string(std::max<size_t>(query.scan_budget, 1))}));
  if (!reply) return std::unexpected(reply.error());
  if (reply->IsError() || reply->elements.size() < 4) {
    return std::unexpected(ReplyError(*reply, "list scheduled tasks"));
  }
  const auto& items = reply->elements;
  for (size_t i = 4; i < items.size(); ++i) {
    auto task = DecodeFields(query.topic, items[i]);
    if (task) page.tasks.push_back(std::move(*task));
  }
  if (items[2].str == "1") {
    DueKey next;
    if (!ParseNumber(items[1].str, next.id)) {
      return Fail(Errc::kUnavailable, "list scheduled tasks: unexpected member '" + items[1].str +
                                          "' in the lanes of " + query.topic);
    }
    next.due_at_ms = ParseScore(items[0].str);
    page.next = next;
  }
  page.scanned = static_cast<size_t>(std::max<int64_t>(items[3].integer, 0));
  return page;
}

// Topics with an entry in a next-due index below `end_ms` (their lanes may have tasks in the
// span), earliest first, at most `max`; `left_out` when there were more.
Result<std::vector<std::string>> RedisStore::HorizonTopics(int64_t end_ms, size_t max,
                                                           bool* left_out) {
  std::string limit = std::to_string(max + 1);
  std::vector<RedisCommand> reads;
  for (const std::string* key : {&kNextPull, &kNextCallback}) {
    reads.push_back(RedisCommand{
        {"ZRANGEBYSCORE", *key, "-inf", "(" + ScoreText(end_ms), "LIMIT", "0", limit}, kGlobal});
  }
  auto replies = redis_->Pipeline(reads);
  if (!replies) return std::unexpected(replies.error());
  std::set<std::string> topics;
  for (const RedisReply& reply : *replies) {
    if (reply.IsError()) return std::unexpected(ReplyError(reply, "horizon"));
    *left_out = *left_out || reply.elements.size() > max;
    for (const RedisReply& member : reply.elements) topics.insert(member.str);
  }
  std::vector<std::string> out(topics.begin(), topics.end());
  if (out.size() > max) {
    out.resize(max);
    *left_out = true;
  }
  return out;
}

Result<HorizonCounts> RedisStore::Horizon(std::string_view topic, int64_t start_ms,
                                          int64_t bucket_ms, size_t buckets) {
  HorizonCounts counts;
  counts.overdue.start_ms = 0;
  counts.buckets.resize(buckets);
  for (size_t i = 0; i < buckets; ++i) {
    counts.buckets[i].start_ms = start_ms + static_cast<int64_t>(i) * bucket_ms;
  }
  std::vector<std::string> topics;
  if (!topic.empty()) {
    topics.emplace_back(topic);
  } else {
    int64_t end_ms = start_ms + static_cast<int64_t>(buckets) * bucket_ms;
    auto found = HorizonTopics(end_ms, kHorizonMaxTopics, &counts.topics_left_out);
    if (!found) return std::unexpected(found.error());
    topics = std::move(*found);
  }
  std::vector<RedisCommand> scripts;
  for (const std::string& name : topics) {
    scripts.push_back(ScriptCommand(
        scripts::Horizon(), {Prefix(name)},
        {std::to_string(start_ms), std::to_string(bucket_ms), std::to_string(buckets)}));
  }
  counts.topics_counted = topics.size();
  if (scripts.empty()) return counts;
  auto replies = redis_->Pipeline(scripts);
  if (!replies) return std::unexpected(replies.error());
  for (const RedisReply& reply : *replies) {
    if (reply.IsError() || reply.elements.size() != buckets + 2) {
      return std::unexpected(ReplyError(reply, "horizon"));
    }
    // Leased and delivering tasks sit in the lanes at their lease deadline: a count that
    // may include some is not exact (a zero is: the lanes hold no fewer than the scheduled).
    bool in_flight = reply.elements[0].integer > 0;
    auto add = [&](HorizonBucket& bucket, const RedisReply& count) {
      bucket.count += count.integer;
      if (in_flight && count.integer > 0) bucket.exact = false;
    };
    add(counts.overdue, reply.elements[1]);
    for (size_t i = 0; i < buckets; ++i) add(counts.buckets[i], reply.elements[i + 2]);
  }
  if (counts.topics_left_out) {
    counts.overdue.exact = false;
    for (HorizonBucket& bucket : counts.buckets) bucket.exact = false;
  }
  return counts;
}

}  // namespace delayq::store::redis
