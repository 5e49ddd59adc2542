#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace delayq::engine {

// A fixed-bucket histogram of milliseconds, updated lock-free from any thread.
class LatencyHistogram {
 public:
  static constexpr std::array<int64_t, 14> kBoundsMs = {1,   2,   5,    10,   20,   50,    100,
                                                        200, 500, 1000, 2000, 5000, 10000, 60000};
  void Observe(int64_t ms);
  // Prometheus exposition lines for a histogram called `name` (seconds), with `labels`
  // ("" or `key="value"`).
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, kBoundsMs.size() + 1> buckets_{};  // last one: +Inf
  std::atomic<int64_t> sum_ms_{0};
};

// Counters the engine updates as tasks flow; rendered by GET /metrics.
struct Metrics {
  std::atomic<uint64_t> tasks_added{0};
  std::atomic<uint64_t> add_commits{0};      // group commits (one store write each)
  std::atomic<uint64_t> tasks_delivered{0};  // handed to a consumer
  std::atomic<uint64_t> tasks_promoted{0};   // became due
  std::atomic<uint64_t> rejected_overload{0};
  std::atomic<uint64_t> store_errors{0};
  LatencyHistogram delivery_lateness;  // delivered_at - due_at
  LatencyHistogram commit_latency;     // one group commit's store write
};

}  // namespace delayq::engine
