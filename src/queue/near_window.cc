#include "queue/near_window.h"

#include <algorithm>

namespace delayq {
namespace {

bool Later(const DueRef& a, const DueRef& b) { return b.key < a.key; }

}  // namespace

uint32_t NearWindow::InternTopic(std::string_view topic) {
  auto it = topic_ids_.find(std::string(topic));
  if (it != topic_ids_.end()) return it->second;
  auto index = static_cast<uint32_t>(topic_names_.size());
  topic_names_.emplace_back(topic);
  topic_ids_.emplace(topic_names_.back(), index);
  ready_.emplace_back();
  reported_in_.push_back(0);
  return index;
}

std::optional<uint32_t> NearWindow::FindTopic(std::string_view topic) const {
  auto it = topic_ids_.find(std::string(topic));
  if (it == topic_ids_.end()) return std::nullopt;
  return it->second;
}

size_t NearWindow::Promote(int64_t now_ms, size_t limit, std::vector<uint32_t>* topics) {
  scratch_.clear();
  size_t moved = timers_.PopDue(now_ms, limit, &scratch_);
  ++promote_generation_;
  for (const DueRef& ref : scratch_) {
    PushReady(ref);
    // Report each topic once per call, in O(1): remember the call that last reported it.
    if (reported_in_[ref.topic] != promote_generation_) {
      reported_in_[ref.topic] = promote_generation_;
      topics->push_back(ref.topic);
    }
  }
  return moved;
}

std::optional<DueRef> NearWindow::PopReady(uint32_t topic) {
  if (topic >= ready_.size() || ready_[topic].empty()) return std::nullopt;
  auto& heap = ready_[topic];
  std::pop_heap(heap.begin(), heap.end(), Later);
  DueRef ref = heap.back();
  heap.pop_back();
  --ready_total_;
  if (heap.empty()) std::vector<DueRef>().swap(heap);  // idle topics keep no capacity
  return ref;
}

std::optional<DueRef> NearWindow::PopReady(uint32_t topic, int64_t now_ms) {
  if (!HasReady(topic, now_ms)) return std::nullopt;
  return PopReady(topic);
}

const DueRef* NearWindow::PeekReady(uint32_t topic) const {
  if (topic >= ready_.size() || ready_[topic].empty()) return nullptr;
  return &ready_[topic].front();
}

void NearWindow::PushReady(const DueRef& ref) {
  auto& heap = ready_[ref.topic];
  heap.push_back(ref);
  std::push_heap(heap.begin(), heap.end(), Later);
  ++ready_total_;
}

size_t NearWindow::ReadyCount(uint32_t topic) const {
  return topic < ready_.size() ? ready_[topic].size() : 0;
}

}  // namespace delayq
