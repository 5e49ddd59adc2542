#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace loadgen {

// Log-linear latency histogram in microseconds, after HdrHistogram: values below 128 are kept
// exactly; every power-of-two range above is split into 64 equal buckets, so a reported value
// is at most 1/64 (1.6%) above the true one. 2,048 counters cover up to ~38 hours, so memory
// stays constant however many requests a run makes, and per-thread copies merge by addition.
class LatencyHistogram {
 public:
  void Record(int64_t micros) {
    uint64_t value = micros < 0 ? 0 : static_cast<uint64_t>(micros);
    ++counts_[IndexOf(value)];
    ++total_;
    max_ = std::max(max_, value);
  }

  void Merge(const LatencyHistogram& other) {
    for (size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
  }

  uint64_t total() const { return total_; }
  uint64_t max() const { return max_; }

  // The upper edge of the bucket holding the given rank: never under-reports a tail.
  uint64_t ValueAtPercentile(double percentile) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<uint64_t>(std::ceil(percentile / 100.0 * static_cast<double>(total_)));
    rank = std::clamp<uint64_t>(rank, 1, total_);
    if (rank == total_) return max_;  // exact even for values past the last bucket
    uint64_t seen = 0;
    for (size_t i = 0; i < kBucketCount; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(UpperEdgeOf(i), max_);
    }
    return max_;
  }

 private:
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBucketCount = uint64_t{1} << kSubBucketBits;  // exact range
  static constexpr uint64_t kSubBucketHalf = kSubBucketCount / 2;  // buckets per power of two
  static constexpr int kMaxShift = 30;
  static constexpr size_t kBucketCount = kSubBucketCount + kMaxShift * kSubBucketHalf;

  static size_t IndexOf(uint64_t value) {
    if (value < kSubBucketCount) return value;
    int shift = std::bit_width(value) - kSubBucketBits;
    if (shift > kMaxShift) return kBucketCount - 1;
    uint64_t top_bits = value >> shift;  // in [kSubBucketHalf, kSubBucketCount)
    return kSubBucketCount + (shift - 1) * kSubBucketHalf + (top_bits - kSubBucketHalf);
  }

  static uint64_t UpperEdgeOf(size_t index) {
    if (index < kSubBucketCount) return index;
    uint64_t shift = (index - kSubBucketCount) / kSubBucketHalf + 1;
    uint64_t top_bits = (index - kSubBucketCount) % kSubBucketHalf + kSubBucketHalf;
    return ((top_bits + 1) << shift) - 1;
  }

  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kBucketCount, 0);
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

}  // namespace loadgen
