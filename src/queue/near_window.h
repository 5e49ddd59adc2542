#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "queue/timer_queue.h"

namespace delayq {

// The part of the schedule that lives in memory: tasks due before `cursor` (a position in
// due order). Everything at or past the cursor is only on disk, so memory depends on how
// many tasks fall due soon, not on the backlog.
//
//   timer queue: scheduled tasks in the window, not yet due
//   ready sets:  per lane, due tasks not yet taken, oldest due first
//
// A "topic" here is a lane name the store chooses; the RocksDB store names one per delivery
// kind and topic, so pull and callback tasks of a topic wait apart.
//
// Entries are hints: the store's record is the authority, and a consumer re-checks the
// record when it takes a task (so a duplicate or stale hint is harmless).
// Not thread-safe: the owning store guards it with a mutex.
class NearWindow {
 public:
  // Tasks with a key below the cursor are in memory; the loader moves the cursor forward
  // as it reads the due index, and an add below the cursor is inserted directly.
  const DueKey& cursor() const { return cursor_; }
  void SetCursor(const DueKey& cursor) { cursor_ = cursor; }
  bool Covers(const DueKey& key) const { return key < cursor_; }

  uint32_t InternTopic(std::string_view topic);
  std::optional<uint32_t> FindTopic(std::string_view topic) const;
  const std::string& TopicName(uint32_t topic) const { return topic_names_[topic]; }

  void Schedule(const DueRef& ref) { timers_.Add(ref); }

  // Moves up to `limit` entries due at `now_ms` into their topics' ready sets and appends
  // each topic that received entries to `topics` (once per call). Returns how many moved.
  size_t Promote(int64_t now_ms, size_t limit, std::vector<uint32_t>* topics);

  // The oldest due entry of a topic, if any.
  std::optional<DueRef> PopReady(uint32_t topic);
  // The same, but only if it is due at `now_ms`: a ready entry can lie after the taker's now
  // when another thread promoted it with a later reading of the clock, or when the wall clock
  // stepped back after it was promoted. Nothing is handed out before its due time.
  std::optional<DueRef> PopReady(uint32_t topic, int64_t now_ms);
  bool HasReady(uint32_t topic, int64_t now_ms) const {
    const DueRef* oldest = PeekReady(topic);
    return oldest != nullptr && oldest->key.due_at_ms <= now_ms;
  }
  const DueRef* PeekReady(uint32_t topic) const;
  void PushReady(const DueRef& ref);
  size_t ReadyCount(uint32_t topic) const;

  int64_t NextDeadlineMs() const { return timers_.NextDeadlineMs(); }
  size_t scheduled_count() const { return timers_.size(); }
  size_t ready_count() const { return ready_total_; }
  size_t size() const { return timers_.size() + ready_total_; }

 private:
  DueKey cursor_{};
  TimerQueue timers_;
  std::vector<std::vector<DueRef>> ready_;  // per topic index: min-heap by key
  size_t ready_total_ = 0;
  std::unordered_map<std::string, uint32_t> topic_ids_;
  std::vector<std::string> topic_names_;
  std::vector<uint64_t> reported_in_;  // per topic: the Promote call that last listed it
  uint64_t promote_generation_ = 0;
  std::vector<DueRef> scratch_;
};

}  // namespace delayq
