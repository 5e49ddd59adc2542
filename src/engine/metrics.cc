#include "engine/metrics.h"

#include <mutex>

namespace delayq::engine {

std::string_view TopicEventName(TopicEvent event) {
  switch (event) {
    case TopicEvent::kAdded:
      return "added";
    case TopicEvent::kFired:
      return "fired";
    case TopicEvent::kDelivered:
      return "delivered";
    case TopicEvent::kFailed:
      return "failed";
    case TopicEvent::kDead:
      return "dead";
    case TopicEvent::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

void TopicMetrics::Count(std::string_view topic, TopicEvent event, uint64_t n) {
  SeriesFor(topic)[static_cast<size_t>(event)].fetch_add(n, std::memory_order_relaxed);
  if (rates_ == nullptr) return;
  switch (event) {
    case TopicEvent::kAdded:
      return rates_->Record(clock_->NowMs(), RateWindow::kAdded, n);
    case TopicEvent::kFired:
      return rates_->Record(clock_->NowMs(), RateWindow::kFired, n);
    case TopicEvent::kFailed:
      return rates_->Record(clock_->NowMs(), RateWindow::kFailed, n);
    default:
      return;
  }
}

TopicMetrics::Counts& TopicMetrics::SeriesFor(std::string_view topic) {
  // A real topic called "_other" (a valid name) shares the overflow series: two series
  // with the same labels would make the exposition invalid.
  if (topic == kOtherTopic) {
    other_used_.store(true, std::memory_order_relaxed);
    return other_;
  }
  {
    std::shared_lock lock(mu_);
    if (auto it = series_.find(topic); it != series_.end()) return *it->second;
    if (series_.size() >= max_topics_) {
      other_used_.store(true, std::memory_order_relaxed);
      return other_;
    }
  }
  std::unique_lock lock(mu_);
  if (auto it = series_.find(topic); it != series_.end()) return *it->second;
  if (series_.size() >= max_topics_) {
    other_used_.store(true, std::memory_order_relaxed);
    return other_;
  }
  auto& slot = series_[std::string(topic)];
  slot = std::make_unique<Counts>();
  return *slot;
}

}  // namespace delayq::engine
