// The seed API's pulls: one task each, consumed (a seed pull has no acknowledgement).
//
// Seed clients pull one task per request, so a burst of due tasks arrives as many small
// pulls at once. Pulls of the oldest task that queue up while the store worker is busy are
// answered together: one Store::ConsumeDue per topic for all of them (one read of the window,
// one write), instead of one store round trip and one write each.

#include <algorithm>
#include <unordered_map>

#include "engine/engine.h"
#include "engine/store_worker.h"

namespace delayq::engine {

void Engine::PullOldest(std::string topic, PullDone done) {
  bool submit = false;
  {
    std::lock_guard lock(seed_pulls_mu_);
    // Bounded like the worker's queue: each waiting pull holds a request's memory.
    if (seed_pulls_.size() < config_.max_queued) {
      seed_pulls_.push_back(SeedPull{std::move(topic), std::move(done)});
      submit = !seed_pull_round_queued_;
      seed_pull_round_queued_ = true;
      done = nullptr;
    }
  }
  if (done) {
    metrics_.rejected_overload.fetch_add(1, std::memory_order_relaxed);
    return done(std::unexpected(Overloaded()));
  }
  if (!submit) return;  // the queued round takes it
  if (!worker_->Submit([this] { RunSeedPulls(); })) {
    std::vector<SeedPull> refused;
    {
      std::lock_guard lock(seed_pulls_mu_);
      refused.swap(seed_pulls_);
      seed_pull_round_queued_ = false;
    }
    metrics_.rejected_overload.fetch_add(refused.size(), std::memory_order_relaxed);
    for (SeedPull& pull : refused) pull.done(std::unexpected(Overloaded()));
  }
}

// On the store worker. Pulls that arrive while it runs queue the next round.
void Engine::RunSeedPulls() {
  std::vector<SeedPull> pulls;
  {
    std::lock_guard lock(seed_pulls_mu_);
    pulls.swap(seed_pulls_);
    seed_pull_round_queued_ = false;
  }
  // Each topic's pulls in arrival order: the first to ask gets the oldest task.
  std::unordered_map<std::string_view, std::vector<size_t>> by_topic;
  std::vector<std::string_view> topics;
  for (size_t i = 0; i < pulls.size(); ++i) {
    auto [it, inserted] = by_topic.try_emplace(pulls[i].topic);
    if (inserted) topics.push_back(it->first);
    it->second.push_back(i);
  }
  int64_t now = clock_.NowMs();
  for (std::string_view topic : topics) {
    const std::vector<size_t>& waiting = by_topic[topic];
    auto taken = store_.ConsumeDue(topic, waiting.size(), now);
    if (!taken) {
      metrics_.store_errors.fetch_add(waiting.size(), std::memory_order_relaxed);  // per pull
      for (size_t i : waiting) pulls[i].done(std::unexpected(taken.error()));
      continue;
    }
    for (size_t k = 0; k < waiting.size(); ++k) {
      if (k >= taken->size()) {
        pulls[waiting[k]].done(std::optional<Task>());
        continue;
      }
      Task& task = (*taken)[k];
      RecordDelivery(task, now);
      // A seed pull has no acknowledgement: handing the task out completes it.
      metrics_.topics.Count(task.topic, TopicEvent::kDelivered);
      pulls[waiting[k]].done(std::optional<Task>(std::move(task)));
    }
  }
}

void Engine::PullById(std::string topic, TaskId id, PullDone done) {
  auto job = [this, topic = std::move(topic), id, done]() {
    int64_t now = clock_.NowMs();
    auto taken = store_.ConsumeById(topic, id, now);
    if (!taken) return done(std::unexpected(taken.error()));
    RecordDelivery(*taken, now);
    metrics_.topics.Count(taken->topic, TopicEvent::kDelivered);
    done(std::optional<Task>(std::move(*taken)));
  };
  if (!worker_->Submit(std::move(job))) {
    metrics_.rejected_overload.fetch_add(1, std::memory_order_relaxed);
    done(std::unexpected(Overloaded()));
  }
}

}  // namespace delayq::engine
