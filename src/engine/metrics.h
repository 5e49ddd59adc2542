#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace delayq::engine {

// A fixed-bucket histogram of durations in microseconds, updated lock-free from any thread,
// rendered in seconds (Prometheus convention).
class LatencyHistogram {
 public:
  explicit LatencyHistogram(std::vector<int64_t> bounds_us);

  void ObserveMicros(int64_t us);
  void ObserveMillis(int64_t ms) { ObserveMicros(ms * 1000); }
  // Exposition lines for a histogram called `name`, with `labels` ("" or `key="value"`).
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  const std::vector<int64_t> bounds_us_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds + 1 (+Inf)
  std::atomic<int64_t> sum_us_{0};
};

// Counters the engine updates as tasks flow; rendered by GET /metrics.
struct Metrics {
  std::atomic<uint64_t> tasks_added{0};
  std::atomic<uint64_t> add_commits{0};      // group commits (one store write each)
  std::atomic<uint64_t> tasks_delivered{0};  // handed to a consumer
  std::atomic<uint64_t> tasks_promoted{0};   // became due
  std::atomic<uint64_t> rejected_overload{0};
  std::atomic<uint64_t> store_errors{0};
  std::atomic<uint64_t> callbacks_ok{0};      // 2xx answers
  std::atomic<uint64_t> callbacks_failed{0};  // other answers, timeouts, connection errors
  std::atomic<uint64_t> callbacks_dead{0};    // failures that used up max_attempts
  // Time from sending a callback to its outcome: 100 us .. 60 s.
  LatencyHistogram callback_latency{{100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 50'000,
                                     100'000, 250'000, 1'000'000, 5'000'000, 60'000'000}};
  // delivered_at - due_at of first deliveries: 1 ms .. 60 s.
  LatencyHistogram delivery_lateness{{1'000, 2'000, 5'000, 10'000, 20'000, 50'000, 100'000, 200'000,
                                      500'000, 1'000'000, 2'000'000, 5'000'000, 10'000'000,
                                      60'000'000}};
  // One group commit's store write (an fsync costs ~0.2-0.3 ms here): 50 us .. 1 s.
  LatencyHistogram commit_latency{{50, 100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 50'000,
                                   100'000, 250'000, 1'000'000}};
};

}  // namespace delayq::engine
