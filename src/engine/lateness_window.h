#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

namespace delayq::engine {

// Firing lateness (delivered_at - due_at of first deliveries) per wall-clock second over the
// last kSeconds seconds, for the dashboard's chart (GET /v1/stats/lateness). The Prometheus
// histogram in metrics.h answers "how late overall"; this answers "how late just now" without
// a Prometheus server.
//
// Thread-safe and lock-free: Record() is called on the delivery paths (store worker thread)
// and costs a few relaxed atomic operations; Snapshot() may run on any thread. A slot is reset
// by the first Record() of a new second; a sample racing with that reset may be lost, which
// a chart can afford and a mutex on the delivery path could not.
class LatenessWindow {
 public:
  static constexpr int64_t kSeconds = 600;  // ten minutes: a dashboard's view, 600 * 32 bytes

  struct Second {
    int64_t unix_s = 0;
    uint64_t count = 0;  // first deliveries in that second
    int64_t sum_ms = 0;  // of their lateness (negative lateness, i.e. early, counts as 0)
    int64_t max_ms = 0;
  };

  // `now_ms`: wall-clock unix milliseconds of the delivery.
  void Record(int64_t now_ms, int64_t lateness_ms);

  // The `seconds` (1..kSeconds) seconds ending with the one holding `now_ms`, oldest first;
  // seconds without deliveries have count 0.
  std::vector<Second> Snapshot(int64_t now_ms, int64_t seconds) const;

 private:
  struct Slot {
    std::atomic<int64_t> unix_s{-1};
    std::atomic<uint64_t> count{0};
    std::atomic<int64_t> sum_ms{0};
    std::atomic<int64_t> max_ms{0};
  };
  std::array<Slot, kSeconds> slots_;
};

}  // namespace delayq::engine
