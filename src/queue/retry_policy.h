#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/defaults.h"

namespace delayq {

// Exponential backoff with jitter for failed deliveries: the n-th retry waits a random
// time in [d/2, d] with d = min(max_ms, initial_ms * multiplier^(n-1)). The random half
// keeps many tasks that failed together from retrying together ("equal jitter").
struct RetryPolicy {
  int64_t initial_ms = defaults::kRetryInitialMs;
  int64_t max_ms = defaults::kRetryMaxMs;
  double multiplier = defaults::kRetryMultiplier;

  // `attempt` is the number of deliveries made so far (>= 1); `random01` in [0, 1).
  int64_t DelayMs(uint32_t attempt, double random01) const {
    double base = static_cast<double>(initial_ms) *
                  std::pow(multiplier, static_cast<double>(std::max<uint32_t>(attempt, 1) - 1));
    base = std::min(base, static_cast<double>(max_ms));
    return static_cast<int64_t>(base / 2 + random01 * base / 2);
  }
};

}  // namespace delayq
