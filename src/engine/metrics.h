#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "engine/rate_window.h"
#include "metrics/latency_histogram.h"

namespace delayq::engine {

// What happened to tasks of one topic (delayq_topic_tasks_<event>_total{topic=...}).
enum class TopicEvent : uint8_t {
  kAdded = 0,      // durably added (dedup hits excluded)
  kFired = 1,      // handed out for the first time after falling due (attempt 1)
  kDelivered = 2,  // completed: seed pull, v1 ack, callback 2xx
  kFailed = 3,     // a delivery attempt failed: callback error, v1 nack
  kDead = 4,       // became dead (attempts used up)
  kCancelled = 5,  // cancelled before delivery
};
inline constexpr size_t kTopicEventCount = 6;
std::string_view TopicEventName(TopicEvent event);

// Per-topic task counters with a cap on label cardinality: the first `max_topics` topics
// seen since start get their own series; the rest share the series of kOtherTopic, so that
// a client inventing topic names cannot make /metrics (and Prometheus) grow without bound.
// Thread-safe; a known topic costs one shared lock and an atomic increment.
class TopicMetrics {
 public:
  static constexpr std::string_view kOtherTopic = "_other";
  using Counts = std::array<std::atomic<uint64_t>, kTopicEventCount>;

  explicit TopicMetrics(size_t max_topics) : max_topics_(max_topics) {}

  void Count(std::string_view topic, TopicEvent event, uint64_t n = 1);
  // From now on also counts added, fired and failed events, summed over topics, into `rates`
  // at `clock`'s time (the dashboard's rate chart). Call before other threads count.
  void TrackRates(RateWindow* rates, const Clock* clock) {
    rates_ = rates;
    clock_ = clock;
  }
  // Calls `visit(topic, counts)` for each series, in no particular order.
  template <class Visit>
  void ForEach(Visit visit) const {
    std::shared_lock lock(mu_);
    for (const auto& [name, series] : series_) visit(std::string_view(name), *series);
    if (other_used_.load(std::memory_order_relaxed)) visit(kOtherTopic, other_);
  }

 private:
  // Lookup by string_view without building a std::string on the hot path.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  Counts& SeriesFor(std::string_view topic);

  const size_t max_topics_;
  mutable std::shared_mutex mu_;
  // unique_ptr: the counters stay put while the map rehashes.
  std::unordered_map<std::string, std::unique_ptr<Counts>, Hash, std::equal_to<>> series_;
  Counts other_{};
  std::atomic<bool> other_used_{false};
  RateWindow* rates_ = nullptr;
  const Clock* clock_ = nullptr;
};

// Counters the engine updates as tasks flow; rendered by GET /metrics.
struct Metrics {
  explicit Metrics(size_t max_topics = 100) : topics(max_topics) {}

  std::atomic<uint64_t> tasks_added{0};
  std::atomic<uint64_t> add_commits{0};      // group commits (one store write each)
  std::atomic<uint64_t> tasks_delivered{0};  // handed to a consumer
  std::atomic<uint64_t> tasks_promoted{0};   // became due
  std::atomic<uint64_t> rejected_overload{0};
  std::atomic<uint64_t> store_errors{0};
  std::atomic<uint64_t> callbacks_ok{0};      // 2xx answers
  std::atomic<uint64_t> callbacks_failed{0};  // other answers, timeouts, connection errors
  std::atomic<uint64_t> callbacks_dead{0};    // failures that used up max_attempts
  // callbacks_failed split by why: no answer (timeout, refused, DNS, TLS), a 5xx status,
  // any other non-2xx status (1xx, 3xx, 4xx).
  std::atomic<uint64_t> callbacks_no_answer{0};
  std::atomic<uint64_t> callbacks_5xx{0};
  std::atomic<uint64_t> callbacks_other_status{0};
  std::atomic<uint64_t> leases_expired{0};  // pull leases and callback leases that ran out
  std::atomic<uint64_t> dead_redriven{0};   // dead tasks put back to due (one by one or in bulk)
  std::atomic<uint64_t> dead_deleted{0};    // dead tasks deleted in bulk
  // Time from sending a callback to its outcome: 100 us .. 60 s.
  metrics::LatencyHistogram callback_latency{{100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000,
                                              50'000, 100'000, 250'000, 1'000'000, 5'000'000,
                                              60'000'000}};
  // delivered_at - due_at of first deliveries: 1 ms .. 60 s.
  metrics::LatencyHistogram delivery_lateness{{1'000, 2'000, 5'000, 10'000, 20'000, 50'000, 100'000,
                                               200'000, 500'000, 1'000'000, 2'000'000, 5'000'000,
                                               10'000'000, 60'000'000}};
  // One group commit's store write (an fsync costs ~0.2-0.3 ms here): 50 us .. 1 s.
  metrics::LatencyHistogram commit_latency{{50, 100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000,
                                            50'000, 100'000, 250'000, 1'000'000}};
  // Every other job of the store worker (claims, acks, cancels, purge slices, ...), which
  // shares the thread with the commits: same buckets.
  metrics::LatencyHistogram store_job_latency{{50, 100, 250, 500, 1'000, 2'500, 5'000, 10'000,
                                               25'000, 50'000, 100'000, 250'000, 1'000'000}};
  TopicMetrics topics;
  // Added, fired, failed per second over the last minutes (TopicMetrics::TrackRates).
  RateWindow rates;
};

}  // namespace delayq::engine
