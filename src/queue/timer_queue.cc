#include "queue/timer_queue.h"

#include <algorithm>

namespace delayq {
namespace {

// std::*_heap builds a max-heap; invert the order to keep the earliest entry in front.
bool Later(const DueRef& a, const DueRef& b) { return b.key < a.key; }

}  // namespace

void TimerQueue::Add(const DueRef& ref) {
  heap_.push_back(ref);
  std::push_heap(heap_.begin(), heap_.end(), Later);
}

size_t TimerQueue::PopDue(int64_t now_ms, size_t limit, std::vector<DueRef>* out) {
  size_t popped = 0;
  while (!heap_.empty() && popped < limit && heap_.front().key.due_at_ms <= now_ms) {
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    out->push_back(heap_.back());
    heap_.pop_back();
    ++popped;
  }
  // Give memory back after a burst: a drained heap should not pin its peak capacity.
  if (heap_.capacity() > 4096 && heap_.size() < heap_.capacity() / 4) heap_.shrink_to_fit();
  return popped;
}

}  // namespace delayq
