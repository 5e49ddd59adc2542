// The callback flow control of the Engine: per-topic lanes (in flight, rate limit), the
// global cap, the FIFO of lanes waiting for it, the heap of blocked lanes, the claim jobs and
// the outcomes. The facade (adds, pulls, reads, scheduler hooks) is in engine.cc.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "engine/engine.h"
#include "engine/store_worker.h"

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

// A lane is in at most one of these places at a time, which is what keeps every topic's
// due tasks moving without any walk over all topics:
//   claim_queued   its claim job is queued to the store worker (and holds a global slot);
//   waiting        in waiting_lanes_, for a global slot;
//   blocked        in blocked_lanes_, for a rate-limit token or a claim retry;
//   full           in_flight == max_in_flight: the next completion pumps it;
//   idle           none of these: the next Promote reporting the topic pumps it.
void Engine::PumpCallbacks(const std::string& topic) {
  if (callbacks_ == nullptr || quiescing_) return;
  const EngineConfig::TopicLimits limits = LimitsFor(topic);
  int64_t now = clock_.NowMs();
  {
    std::lock_guard lock(lanes_mu_);
    CallbackLane& lane = lanes_[topic];
    if (lane.claim_queued) {
      lane.repump = true;  // the job looks again when it is done
      return;
    }
    if (lane.waiting || lane.blocked_until_ms != 0) return;  // their queue pumps them
    if (lane.in_flight >= limits.max_in_flight) return;      // a completion pumps it
    if (limits.rate_limit > 0) {
      RefillLocked(lane, limits, now);
      if (lane.tokens < 1) {
        int64_t wait_ms = static_cast<int64_t>((1 - lane.tokens) * 1000.0 / limits.rate_limit);
        BlockLocked(topic, lane, now + std::max<int64_t>(1, wait_ms));
        return;
      }
    }
    if (callbacks_in_flight_ + claims_queued_ >= config_.max_callbacks_in_flight) {
      lane.waiting = true;
      waiting_lanes_.push_back(topic);
      return;
    }
    lane.claim_queued = true;
    ++claims_queued_;
  }
  SubmitClaims({topic});
}

// Token bucket holding one second's worth (at least one token, so that rates below one per
// second still send); starts full.
void Engine::RefillLocked(CallbackLane& lane, const EngineConfig::TopicLimits& limits,
                          int64_t now) {
  double capacity = std::max(1.0, limits.rate_limit);
  if (lane.refilled_at_ms == 0) {
    lane.tokens = capacity;
  } else {
    // A wall clock stepped back refills nothing (and takes nothing).
    double elapsed_s =
        static_cast<double>(std::max<int64_t>(0, now - lane.refilled_at_ms)) / 1000.0;
    lane.tokens = std::min(capacity, lane.tokens + elapsed_s * limits.rate_limit);
  }
  lane.refilled_at_ms = now;
}

void Engine::BlockLocked(const std::string& topic, CallbackLane& lane, int64_t until_ms) {
  lane.blocked_until_ms = until_ms;
  blocked_lanes_.emplace(until_ms, topic);
  scheduler_->Kick(until_ms);
}

// An idle lane is forgotten, so that a topic with nothing in flight costs no memory here.
// A rate-limited lane is kept until its bucket is full again: forgetting it refills it.
void Engine::EraseIfIdleLocked(const std::string& topic, const EngineConfig::TopicLimits& limits,
                               int64_t now) {
  auto it = lanes_.find(topic);
  if (it == lanes_.end()) return;
  CallbackLane& lane = it->second;
  if (lane.in_flight != 0 || lane.claim_queued || lane.waiting || lane.blocked_until_ms != 0) {
    return;
  }
  if (limits.rate_limit > 0) {
    RefillLocked(lane, limits, now);
    if (lane.tokens < std::max(1.0, limits.rate_limit)) return;
  }
  lanes_.erase(it);
}

// Hands free global slots to waiting lanes, oldest first. A waiting lane is known to be
// claimable: it was when it started waiting, and its in-flight count and tokens can only
// have improved since.
std::vector<std::string> Engine::TakeWaitingLocked() {
  std::vector<std::string> start;
  while (!waiting_lanes_.empty() && !quiescing_ &&
         callbacks_in_flight_ + claims_queued_ < config_.max_callbacks_in_flight) {
    std::string topic = std::move(waiting_lanes_.front());
    waiting_lanes_.pop_front();
    auto it = lanes_.find(topic);
    if (it == lanes_.end() || !it->second.waiting) continue;
    it->second.waiting = false;
    it->second.claim_queued = true;
    ++claims_queued_;
    start.push_back(std::move(topic));
  }
  return start;
}

void Engine::SubmitClaims(std::vector<std::string> topics) {
  for (std::string& topic : topics) {
    if (worker_->Submit([this, topic] { RunClaim(topic); })) continue;
    {
      std::lock_guard lock(lanes_mu_);
      CallbackLane& lane = lanes_[topic];
      lane.claim_queued = false;
      lane.repump = false;
      --claims_queued_;
    }
    RetryPumpLater(topic);
  }
}

// On the store worker. The slots are reserved (lane and global counts) before the claim
// and the unused ones given back after it, so that a pump on another thread meanwhile
// never sees more room than there is.
void Engine::RunClaim(const std::string& topic) {
  const EngineConfig::TopicLimits& limits = LimitsFor(topic);
  int64_t now = clock_.NowMs();
  size_t slots = 0;
  {
    std::lock_guard lock(lanes_mu_);
    CallbackLane& lane = lanes_[topic];
    --claims_queued_;  // this job's own global slot becomes part of the reservation
    size_t global_free =
        config_.max_callbacks_in_flight -
        std::min(config_.max_callbacks_in_flight, callbacks_in_flight_ + claims_queued_);
    size_t topic_free = limits.max_in_flight - std::min(limits.max_in_flight, lane.in_flight);
    slots = std::min(global_free, topic_free);
    if (limits.rate_limit > 0) {
      RefillLocked(lane, limits, now);
      slots = std::min(slots, static_cast<size_t>(std::max(0.0, lane.tokens)));
    }
    if (quiescing_) slots = 0;
    lane.in_flight += slots;
    callbacks_in_flight_ += slots;
  }
  Result<std::vector<Task>> claimed = std::vector<Task>();
  if (slots > 0) {
    claimed = store_.ClaimDue(topic, DeliveryKind::kCallback, slots, now,
                              now + config_.callback_lease_ms);
  }
  size_t taken = claimed ? claimed->size() : 0;
  bool again = false;
  std::vector<std::string> start;
  {
    std::lock_guard lock(lanes_mu_);
    CallbackLane& lane = lanes_[topic];
    lane.claim_queued = false;
    lane.in_flight -= slots - taken;
    callbacks_in_flight_ -= slots - taken;
    if (limits.rate_limit > 0) lane.tokens -= static_cast<double>(taken);
    // A full claim may have left more due; a pump during the claim may have seen more.
    again = claimed && !quiescing_ && ((slots > 0 && taken == slots) || lane.repump);
    lane.repump = false;
    if (!claimed) {
      // The due tasks are still in the lane; nothing else may wake it (no new task falls
      // due, no call is in flight), so the scheduler's tick tries again shortly.
      BlockLocked(topic, lane, now + kClaimRetryMs);
    } else if (!again) {
      EraseIfIdleLocked(topic, limits, now);
    }
    start = TakeWaitingLocked();
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
  if (again) PumpCallbacks(topic);
  SubmitClaims(std::move(start));
}

void Engine::RetryPumpLater(const std::string& topic) {
  std::lock_guard lock(lanes_mu_);
  CallbackLane& lane = lanes_[topic];
  if (lane.blocked_until_ms == 0 && !lane.claim_queued && !lane.waiting) {
    BlockLocked(topic, lane, clock_.NowMs() + kClaimRetryMs);
  }
}

// A call ended (its outcome recorded or dropped): its slot goes to the next waiting lane,
// and its own lane is pumped when more of it is due, else forgotten when idle.
void Engine::ReleaseCallbackSlot(const std::string& topic, bool more_due) {
  std::vector<std::string> start;
  {
    std::lock_guard lock(lanes_mu_);
    if (auto it = lanes_.find(topic); it != lanes_.end() && it->second.in_flight > 0) {
      it->second.in_flight -= 1;
    }
    if (callbacks_in_flight_ > 0) --callbacks_in_flight_;
    if (!more_due) EraseIfIdleLocked(topic, LimitsFor(topic), clock_.NowMs());
    start = TakeWaitingLocked();
  }
  if (more_due) PumpCallbacks(topic);
  SubmitClaims(std::move(start));
}

bool Engine::WaitForCallbacks(std::chrono::milliseconds grace) {
  auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    {
      std::lock_guard lock(lanes_mu_);
      if (callbacks_in_flight_ + claims_queued_ == 0) return true;
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
  auto on_settled = [this, id = task.id, topic = task.topic](Result<Task> recorded) {
    if (!recorded) {
      // kConflict: the lease ran out before the answer came and the task moved on.
      spdlog::warn("msg=\"callback outcome not recorded\" task={} error=\"{}\"", id,
                   recorded.error().message);
    } else if (recorded->state == TaskState::kDead) {
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
