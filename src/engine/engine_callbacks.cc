// Callback delivery in the Engine: the claim jobs, the hand-over to the sink and the
// outcomes, under the flow control of callback_lanes.h (per-topic lanes, rate limits, the
// global cap). The facade (adds, pulls, reads, scheduler hooks) is in engine.cc.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/trace_context.h"
#include "engine/engine.h"
#include "engine/store_worker.h"
#include "engine/task_log.h"

namespace delayq::engine {

// After a callback claim could not run (queue full, store error), try again this much later.
constexpr int64_t kClaimRetryMs = 100;

// --- Callback delivery ----------------------------------------------------------------------
//
// Per topic, at most max_in_flight callbacks are claimed and handed to the sink at once
// (and at most rate_limit per second start), so that a slow or dead receiver only holds
// its own topic's slots. Claims take tasks oldest due first from the topic's callback
// lane; each completion frees a slot and claims more if more are due.
//
// Over all topics, at most max_callbacks_in_flight calls are in flight (or reserved by a
// queued claim). Without that cap 100,000 topics with one due task each were all handed
// to libcurl at once, whose cost per finished transfer grows with the handles it holds:
// calls timed out in its queue and most were never made (BENCHMARKS.md, many topics).

EngineConfig::TopicLimits Engine::LimitsFor(const std::string& topic) const {
  auto limits = topic_limits_.Load();
  auto it = limits->find(topic);
  return it == limits->end() ? config_.default_topic_limits : it->second;
}

void Engine::SetTopicLimits(std::map<std::string, EngineConfig::TopicLimits> limits) {
  topic_limits_.Store(
      std::make_shared<const std::map<std::string, EngineConfig::TopicLimits>>(std::move(limits)));
}

// The lanes (callback_lanes.h) decide; this file runs what they decide: claim jobs on the
// store worker, scheduler wake-ups at the times a lane is blocked until, and the sink.
void Engine::PumpCallbacks(const std::string& topic) {
  if (callbacks_ == nullptr || quiescing_) return;
  const EngineConfig::TopicLimits limits = LimitsFor(topic);
  int64_t now = clock_.NowMs();
  {
    std::lock_guard lock(lanes_mu_);
    CallbackLanes::PumpResult pumped = lanes_.Pump(topic, limits, now);
    if (pumped.blocked_until_ms != 0) scheduler_->Kick(pumped.blocked_until_ms);
    if (!pumped.claim) return;
  }
  SubmitClaims({topic});
}

void Engine::SubmitClaims(std::vector<std::string> topics) {
  for (std::string& topic : topics) {
    if (worker_->Submit([this, topic] { RunClaim(topic); })) continue;
    {
      std::lock_guard lock(lanes_mu_);
      lanes_.ClaimNotQueued(topic);
    }
    RetryPumpLater(topic);
  }
}

// On the store worker: the lanes reserve the slots before the claim and take the unused
// ones back after it.
void Engine::RunClaim(const std::string& topic) {
  const EngineConfig::TopicLimits& limits = LimitsFor(topic);
  int64_t now = clock_.NowMs();
  size_t slots = 0;
  {
    std::lock_guard lock(lanes_mu_);
    slots = lanes_.BeginClaim(topic, limits, now, quiescing_);
  }
  Result<std::vector<Task>> claimed = std::vector<Task>();
  if (slots > 0) {
    claimed = store_.ClaimDue(topic, DeliveryKind::kCallback, slots, now,
                              now + config_.callback_lease_ms);
  }
  std::optional<size_t> taken;
  if (claimed) taken = claimed->size();
  CallbackLanes::ClaimEnd end;
  {
    std::lock_guard lock(lanes_mu_);
    end = lanes_.EndClaim(topic, limits, now, slots, taken, now + kClaimRetryMs, quiescing_);
    if (end.blocked_until_ms != 0) scheduler_->Kick(end.blocked_until_ms);
  }
  if (!claimed) {
    metrics_.store_errors.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("msg=\"callback claim failed\" topic={} error=\"{}\"", topic,
                 claimed.error().message);
  } else {
    for (const Task& task : *claimed) {
      RecordDelivery(task, now);
      auto started = std::chrono::steady_clock::now();
      callbacks_->Deliver(task, [this, sent = task, started](CallbackOutcome outcome) {
        auto elapsed = std::chrono::steady_clock::now() - started;
        metrics_.callback_latency.ObserveMicros(
            std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
        OnCallbackDone(sent, outcome);
      });
    }
  }
  if (end.again) PumpCallbacks(topic);
  SubmitClaims(std::move(end.start));
}

void Engine::RetryPumpLater(const std::string& topic) {
  std::lock_guard lock(lanes_mu_);
  int64_t until_ms = clock_.NowMs() + kClaimRetryMs;
  if (lanes_.BlockForRetry(topic, until_ms)) scheduler_->Kick(until_ms);
}

// A call ended (its outcome recorded or dropped): its slot goes to the next waiting lane,
// and its own lane is pumped when more of it is due, else forgotten when idle.
void Engine::ReleaseCallbackSlot(const std::string& topic, bool more_due) {
  std::vector<std::string> start;
  {
    std::lock_guard lock(lanes_mu_);
    start = lanes_.Release(topic, LimitsFor(topic), clock_.NowMs(), more_due, quiescing_);
  }
  if (more_due) PumpCallbacks(topic);
  SubmitClaims(std::move(start));
}

bool Engine::WaitForCallbacks(std::chrono::milliseconds grace) {
  auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    {
      std::lock_guard lock(lanes_mu_);
      if (lanes_.Busy() == 0) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Engine::OnCallbackDone(const Task& task, const CallbackOutcome& outcome) {
  (outcome.ok() ? metrics_.callbacks_ok : metrics_.callbacks_failed)
      .fetch_add(1, std::memory_order_relaxed);
  if (!outcome.ok()) {
    (outcome.http_status == 0     ? metrics_.callbacks_no_answer
     : outcome.http_status >= 500 ? metrics_.callbacks_5xx
                                  : metrics_.callbacks_other_status)
        .fetch_add(1, std::memory_order_relaxed);
    LogDeliveryFailed(task, outcome);
  }
  double random01;
  {
    std::lock_guard lock(jitter_mu_);
    random01 = std::uniform_real_distribution<double>(0.0, 1.0)(jitter_);
  }
  store::Settlement settlement{task.id, task.lease_token, outcome.ok(), 0, outcome.error};
  if (!outcome.ok()) {
    settlement.retry_at_ms = clock_.NowMs() + config_.retry.DelayMs(task.attempts, random01);
  }
  auto on_settled = [this, id = task.id, topic = task.topic,
                     traceparent = task.traceparent](Result<Task> recorded) {
    if (!recorded) {
      // kConflict: the lease ran out before the answer came and the task moved on.
      spdlog::warn("msg=\"callback outcome not recorded\" task={} error=\"{}\"{}", id,
                   recorded.error().message, TraceLogField(traceparent));
    } else if (recorded->state == TaskState::kDead) {
      LogDead(*recorded, traceparent);
      metrics_.callbacks_dead.fetch_add(1, std::memory_order_relaxed);
      metrics_.topics.Count(topic, TopicEvent::kFailed);
      metrics_.topics.Count(topic, TopicEvent::kDead);
    } else if (recorded->state == TaskState::kScheduled) {
      metrics_.topics.Count(topic, TopicEvent::kFailed);
      scheduler_->Kick(recorded->due_at_ms);
    } else if (recorded->state == TaskState::kDone) {
      metrics_.topics.Count(topic, TopicEvent::kDelivered);
    }
    ReleaseCallbackSlot(topic, store_.HasDue(topic, DeliveryKind::kCallback, clock_.NowMs()));
  };
  if (!worker_->SubmitSettle(std::move(settlement), std::move(on_settled))) {
    // The outcome is lost; the task stays delivering until its lease expires and is then
    // delivered again (at-least-once).
    ReleaseCallbackSlot(task.topic, true);
  }
}

}  // namespace delayq::engine
