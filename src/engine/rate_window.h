#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

namespace delayq::engine {

// Tasks added, fired (first deliveries) and failed (failed delivery attempts) per wall-clock
// second over the last kSeconds seconds, for the dashboard's rate chart (GET /v1/stats/rates):
// the same events as the per-topic counters of /metrics, summed over topics, without a
// Prometheus server to take rates. Fixed memory (kSeconds slots) whatever the load.
//
// Thread-safe and lock-free, as LatenessWindow: Record() costs a few relaxed atomic operations
// on the add and delivery paths; Snapshot() may run on any thread. A count racing with the
// reset of its slot at a new second may be lost, which a chart can afford.
class RateWindow {
 public:
  static constexpr int64_t kSeconds = 600;  // ten minutes, 600 * 32 bytes

  enum Series : int { kAdded = 0, kFired = 1, kFailed = 2 };
  static constexpr int kSeriesCount = 3;

  struct Second {
    int64_t unix_s = 0;
    std::array<uint64_t, kSeriesCount> counts{};  // index: Series
  };

  // `now_ms`: wall-clock unix milliseconds of the event.
  void Record(int64_t now_ms, Series series, uint64_t n = 1);

  // The `seconds` (1..kSeconds) seconds ending with the one holding `now_ms`, oldest first;
  // seconds without events have zero counts.
  std::vector<Second> Snapshot(int64_t now_ms, int64_t seconds) const;

 private:
  struct Slot {
    std::atomic<int64_t> unix_s{-1};
    std::array<std::atomic<uint64_t>, kSeriesCount> counts{};
  };
  std::array<Slot, kSeconds> slots_;
};

}  // namespace delayq::engine
