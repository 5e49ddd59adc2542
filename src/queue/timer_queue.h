#pragma once

#include <compare>
#include <cstdint>
#include <limits>
#include <vector>

#include "queue/task.h"

namespace delayq {

// Position of a task in due order: by due time, then by id (ids are time-ordered, so tasks
// due in the same millisecond come out in the order they were added).
struct DueKey {
  int64_t due_at_ms = 0;
  TaskId id = 0;
  auto operator<=>(const DueKey&) const = default;
};

// What the near window holds for one task: 24 bytes, no payload.
struct DueRef {
  DueKey key;
  uint32_t topic = 0;  // index into NearWindow's interned topic names
};

inline constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();

// A min-heap of due references: Add, PopDue(now), NextDeadlineMs. A plain data structure
// with no clock and no I/O (the scheduler turns NextDeadlineMs() into its sleep). A binary
// heap rather than a hashed wheel: the window is bounded in count, so O(log n) with
// n <= ~1M is a few dozen comparisons, and a heap keeps millisecond order exactly.
class TimerQueue {
 public:
  void Add(const DueRef& ref);

  // Removes every entry with due_at_ms <= now_ms, in due order, appending them to `out`.
  // At most `limit` entries per call so that a huge burst cannot stall the caller.
  size_t PopDue(int64_t now_ms, size_t limit, std::vector<DueRef>* out);

  int64_t NextDeadlineMs() const {
    return heap_.empty() ? kNoDeadline : heap_.front().key.due_at_ms;
  }
  size_t size() const { return heap_.size(); }
  bool empty() const { return heap_.empty(); }

 private:
  std::vector<DueRef> heap_;
};

}  // namespace delayq
