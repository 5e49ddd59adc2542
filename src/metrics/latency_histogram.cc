#include "metrics/latency_histogram.h"

#include <fmt/format.h>

namespace delayq::metrics {

LatencyHistogram::LatencyHistogram(std::vector<int64_t> bounds_us)
    : bounds_us_(std::move(bounds_us)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_us_.size() + 1)) {}

void LatencyHistogram::ObserveMicros(int64_t us) {
  if (us < 0) us = 0;
  size_t i = 0;
  while (i < bounds_us_.size() && us > bounds_us_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(us, std::memory_order_relaxed);
}

void LatencyHistogram::Render(const std::string& name, const std::string& labels,
                              std::string* out) const {
  std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_us_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    *out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep,
                        static_cast<double>(bounds_us_[i]) / 1e6, cumulative);
  }
  cumulative += buckets_[bounds_us_.size()].load(std::memory_order_relaxed);
  *out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, cumulative);
  std::string braces = labels.empty() ? "" : "{" + labels + "}";
  *out += fmt::format("{}_sum{} {}\n", name, braces,
                      static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6);
  *out += fmt::format("{}_count{} {}\n", name, braces, cumulative);
}

}  // namespace delayq::metrics
