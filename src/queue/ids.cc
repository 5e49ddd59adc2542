#include "queue/ids.h"

#include <stdexcept>

namespace delayq {

IdGenerator::IdGenerator(uint32_t node, const Clock& clock) : node_(node), clock_(clock) {
  if (node > kMaxNode) throw std::invalid_argument("node id must be <= 1023");
}

void IdGenerator::Observe(TaskId id) {
  std::lock_guard lock(mu_);
  int64_t ms = static_cast<int64_t>(id >> 22);
  uint32_t seq = id & kMaxSequence;
  if (ms > last_ms_ || (ms == last_ms_ && seq > sequence_)) {
    last_ms_ = ms;
    sequence_ = seq;
  }
}

TaskId IdGenerator::Next() {
  std::lock_guard lock(mu_);
  int64_t now = clock_.NowMs() - kEpochMs;
  if (now > last_ms_) {
    last_ms_ = now;
    sequence_ = 0;
  } else if (sequence_ < kMaxSequence) {
    ++sequence_;  // same millisecond, or the clock went back: continue from the last id
  } else {
    // 4,096 ids in this millisecond: borrow the next one. The clock catches up within a
    // millisecond under any realistic load, so ids stay close to wall time.
    ++last_ms_;
    sequence_ = 0;
  }
  return (static_cast<uint64_t>(last_ms_) << 22) | (static_cast<uint64_t>(node_) << kSequenceBits) |
         sequence_;
}

}  // namespace delayq
