// A topic's dead tasks in bulk: redriven or deleted a bounded slice per call.

#include "engine/engine.h"
#include "engine/store_worker.h"

namespace delayq::engine {

void Engine::RedriveDead(std::string topic, size_t limit, DeadBulkDone done) {
  auto job = [this, topic = std::move(topic), limit, done]() {
    int64_t now = clock_.NowMs();
    auto result = store_.RedriveDead(topic, limit, now);
    if (!result) {
      metrics_.store_errors.fetch_add(1, std::memory_order_relaxed);
    } else if (result->count > 0) {
      metrics_.dead_redriven.fetch_add(result->count, std::memory_order_relaxed);
      scheduler_->Kick(now);  // the tasks are due now
    }
    done(std::move(result));
  };
  if (!worker_->Submit(std::move(job))) {
    metrics_.rejected_overload.fetch_add(1, std::memory_order_relaxed);
    done(std::unexpected(Overloaded()));
  }
}

void Engine::DeleteDead(std::string topic, size_t limit, DeadBulkDone done) {
  auto job = [this, topic = std::move(topic), limit, done]() {
    auto result = store_.DeleteDead(topic, limit, clock_.NowMs());
    if (!result) {
      metrics_.store_errors.fetch_add(1, std::memory_order_relaxed);
    } else {
      metrics_.dead_deleted.fetch_add(result->count, std::memory_order_relaxed);
    }
    done(std::move(result));
  };
  if (!worker_->Submit(std::move(job))) {
    metrics_.rejected_overload.fetch_add(1, std::memory_order_relaxed);
    done(std::unexpected(Overloaded()));
  }
}

}  // namespace delayq::engine
