#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace delayq::metrics {

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

}  // namespace delayq::metrics
