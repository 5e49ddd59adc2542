#pragma once

#include <cstdint>
#include <mutex>

#include "common/clock.h"
#include "queue/task.h"

namespace delayq {

// Snowflake-style 63-bit ids: 41 bits of milliseconds since 2024-01-01T00:00:00Z, 10 bits
// of node number, 12 bits of sequence. Ids minted by one generator strictly increase, even
// if the wall clock steps back (the generator keeps its last millisecond and never mints
// below it). Thread-safe.
class IdGenerator {
 public:
  static constexpr int64_t kEpochMs = 1'704'067'200'000;  // 2024-01-01T00:00:00Z
  static constexpr int kNodeBits = 10;
  static constexpr int kSequenceBits = 12;
  static constexpr uint32_t kMaxNode = (1u << kNodeBits) - 1;
  static constexpr uint32_t kMaxSequence = (1u << kSequenceBits) - 1;

  // `node` must be <= kMaxNode. `clock` must outlive the generator.
  IdGenerator(uint32_t node, const Clock& clock);

  // Never mint an id <= `id` (e.g. the largest id found in the store after a restart, in
  // case the clock went back while the process was down).
  void Observe(TaskId id);

  TaskId Next();

  static int64_t TimestampMsOf(TaskId id) { return static_cast<int64_t>(id >> 22) + kEpochMs; }
  static uint32_t NodeOf(TaskId id) { return (id >> kSequenceBits) & kMaxNode; }

 private:
  const uint32_t node_;
  const Clock& clock_;
  std::mutex mu_;
  int64_t last_ms_ = 0;  // milliseconds since kEpochMs of the last id minted
  uint32_t sequence_ = 0;
};

}  // namespace delayq
