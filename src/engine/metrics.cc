#include "engine/metrics.h"

#include <fmt/format.h>

namespace delayq::engine {

void LatencyHistogram::Observe(int64_t ms) {
  if (ms < 0) ms = 0;
  size_t i = 0;
  while (i < kBoundsMs.size() && ms > kBoundsMs[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ms_.fetch_add(ms, std::memory_order_relaxed);
}

void LatencyHistogram::Render(const std::string& name, const std::string& labels,
                              std::string* out) const {
  std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBoundsMs.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    *out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep,
                        static_cast<double>(kBoundsMs[i]) / 1000.0, cumulative);
  }
  cumulative += buckets_.back().load(std::memory_order_relaxed);
  *out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, cumulative);
  std::string braces = labels.empty() ? "" : "{" + labels + "}";
  *out += fmt::format("{}_sum{} {}\n", name, braces,
                      static_cast<double>(sum_ms_.load(std::memory_order_relaxed)) / 1000.0);
  *out += fmt::format("{}_count{} {}\n", name, braces, cumulative);
}

}  // namespace delayq::engine
