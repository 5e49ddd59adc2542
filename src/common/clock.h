#pragma once

#include <atomic>
#include <cstdint>

namespace delayq {

// Wall-clock time in unix milliseconds. Due times are wall-clock instants, so the whole
// engine reads time through this seam; unit tests drive a ManualClock by hand.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
  static SystemClock& Instance();
};

// Thread-safe clock that moves only when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms) : now_ms_(now_ms) {}
  int64_t NowMs() const override { return now_ms_.load(std::memory_order_acquire); }
  void Set(int64_t now_ms) { now_ms_.store(now_ms, std::memory_order_release); }
  void Advance(int64_t delta_ms) { now_ms_.fetch_add(delta_ms, std::memory_order_acq_rel); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace delayq
