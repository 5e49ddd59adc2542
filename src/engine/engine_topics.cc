// Pausing and resuming a topic's deliveries.

#include "engine/engine.h"
#include "engine/store_worker.h"

namespace delayq::engine {

void Engine::SetTopicPaused(std::string topic, bool paused, TopicDone done) {
  auto job = [this, topic = std::move(topic), paused, done]() {
    int64_t now = clock_.NowMs();
    if (auto set = store_.SetPaused(topic, paused, now); !set) {
      metrics_.store_errors.fetch_add(1, std::memory_order_relaxed);
      return done(std::unexpected(set.error()));
    }
    if (!paused) {
      // The store did not report the topic's due tasks while it was paused, and reports a lane
      // only when it newly gets due tasks: start its consumers here. (Other instances on a
      // shared store see the resume at their next poll.)
      WakeWaiters(topic);
      PumpCallbacks(topic);
      scheduler_->Kick(now);
    }
    auto stats = store_.Topics(topic, now);
    if (!stats) return done(std::unexpected(stats.error()));
    if (stats->empty()) return done(store::TopicStats{topic});  // resumed, holds no task
    done(std::move(stats->front()));
  };
  if (!worker_->Submit(std::move(job))) {
    metrics_.rejected_overload.fetch_add(1, std::memory_order_relaxed);
    done(std::unexpected(Overloaded()));
  }
}

}  // namespace delayq::engine
