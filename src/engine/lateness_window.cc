#include "engine/lateness_window.h"

#include <algorithm>

namespace delayq::engine {

namespace {

int64_t FloorSeconds(int64_t ms) { return ms >= 0 ? ms / 1000 : (ms - 999) / 1000; }

}  // namespace

void LatenessWindow::Record(int64_t now_ms, int64_t lateness_ms) {
  int64_t second = FloorSeconds(now_ms);
  Slot& slot = slots_[static_cast<size_t>(second % kSeconds + kSeconds) % kSeconds];
  int64_t seen = slot.unix_s.load(std::memory_order_acquire);
  if (seen != second) {
    // Only the thread that moves the slot to this second clears it; a clock stepping back
    // leaves the newer second in place rather than mixing two seconds in one slot.
    if (seen > second) return;
    if (slot.unix_s.compare_exchange_strong(seen, second, std::memory_order_acq_rel)) {
      slot.count.store(0, std::memory_order_relaxed);
      slot.sum_ms.store(0, std::memory_order_relaxed);
      slot.max_ms.store(0, std::memory_order_relaxed);
    } else if (seen != second) {
      return;
    }
  }
  int64_t late = std::max<int64_t>(lateness_ms, 0);
  slot.count.fetch_add(1, std::memory_order_relaxed);
  slot.sum_ms.fetch_add(late, std::memory_order_relaxed);
  int64_t max = slot.max_ms.load(std::memory_order_relaxed);
  while (late > max && !slot.max_ms.compare_exchange_weak(max, late, std::memory_order_relaxed)) {
  }
}

std::vector<LatenessWindow::Second> LatenessWindow::Snapshot(int64_t now_ms,
                                                             int64_t seconds) const {
  seconds = std::clamp<int64_t>(seconds, 1, kSeconds);
  int64_t last = FloorSeconds(now_ms);
  std::vector<Second> out;
  out.reserve(static_cast<size_t>(seconds));
  for (int64_t second = last - seconds + 1; second <= last; ++second) {
    const Slot& slot = slots_[static_cast<size_t>(second % kSeconds + kSeconds) % kSeconds];
    Second s;
    s.unix_s = second;
    if (slot.unix_s.load(std::memory_order_acquire) == second) {
      s.count = slot.count.load(std::memory_order_relaxed);
      s.sum_ms = slot.sum_ms.load(std::memory_order_relaxed);
      s.max_ms = slot.max_ms.load(std::memory_order_relaxed);
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace delayq::engine
