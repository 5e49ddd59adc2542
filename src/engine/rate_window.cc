#include "engine/rate_window.h"

#include <algorithm>

namespace delayq::engine {

namespace {

int64_t FloorSeconds(int64_t ms) { return ms >= 0 ? ms / 1000 : (ms - 999) / 1000; }

size_t SlotOf(int64_t second) {
  return static_cast<size_t>((second % RateWindow::kSeconds + RateWindow::kSeconds) %
                             RateWindow::kSeconds);
}

}  // namespace

void RateWindow::Record(int64_t now_ms, Series series, uint64_t n) {
  int64_t second = FloorSeconds(now_ms);
  Slot& slot = slots_[SlotOf(second)];
  int64_t seen = slot.unix_s.load(std::memory_order_acquire);
  if (seen != second) {
    // Only the thread that moves the slot to this second clears it; a clock stepping back
    // leaves the newer second in place rather than mixing two seconds in one slot.
    if (seen > second) return;
    if (slot.unix_s.compare_exchange_strong(seen, second, std::memory_order_acq_rel)) {
      for (auto& count : slot.counts) count.store(0, std::memory_order_relaxed);
    } else if (seen != second) {
      return;
    }
  }
  slot.counts[series].fetch_add(n, std::memory_order_relaxed);
}

std::vector<RateWindow::Second> RateWindow::Snapshot(int64_t now_ms, int64_t seconds) const {
  seconds = std::clamp<int64_t>(seconds, 1, kSeconds);
  int64_t last = FloorSeconds(now_ms);
  std::vector<Second> out;
  out.reserve(static_cast<size_t>(seconds));
  for (int64_t second = last - seconds + 1; second <= last; ++second) {
    const Slot& slot = slots_[SlotOf(second)];
    Second s;
    s.unix_s = second;
    if (slot.unix_s.load(std::memory_order_acquire) == second) {
      for (int i = 0; i < kSeriesCount; ++i)
        s.counts[i] = slot.counts[i].load(std::memory_order_relaxed);
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace delayq::engine
