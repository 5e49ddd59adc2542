#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "engine/store_worker.h"

namespace delayq::engine {

// One purge round deletes at most this many finished tasks per slice, so that the store
// worker stays responsive; slices are separate jobs.
constexpr size_t kPurgeSlice = 1'000;
constexpr int kPurgeSlicesPerRound = 20;
// Expired leases handled per store job.
constexpr size_t kExpireSlice = 10'000;
// After a callback claim could not run (queue full, store error), try again this much later.
constexpr int64_t kClaimRetryMs = 100;

// A v1 pull that is waiting for tasks (long poll). Owned jointly by the topic's waiting
// list, the deadline index and in-flight claim jobs; answered exactly once.
struct Engine::Waiter {
  std::string topic;
  size_t max = 1;
  int64_t lease_ms = 0;
  int64_t deadline_ms = 0;
  TasksDone done;
  bool registered = false;  // in waiting_ (guarded by waiters_mu_)
  std::atomic<bool> answered{false};

  void Answer(Result<std::vector<Task>> result) {
    if (!answered.exchange(true)) done(std::move(result));
  }
};

Engine::Engine(store::Store& store, const Clock& clock, EngineConfig config,
               CallbackSink* callbacks)
    : store_(store),
      clock_(clock),
      config_(config),
      metrics_(config.metrics_max_topics),
      topic_limits_(std::make_shared<const std::map<std::string, EngineConfig::TopicLimits>>(
          config.topic_limits)),
      ids_(config.node_id, clock),
      worker_(std::make_unique<StoreWorker>(store, metrics_, config.max_queued)),
      scheduler_(std::make_unique<Scheduler>(store, clock, static_cast<SchedulerListener&>(*this))),
      callbacks_(callbacks),
      jitter_(std::random_device{}()) {}

Engine::~Engine() { Stop(); }

Result<void> Engine::Start() {
  auto max_id = store_.MaxTaskId();
  if (!max_id) return std::unexpected(max_id.error());
  ids_.Observe(*max_id);
  next_purge_ms_ = clock_.NowMs() + config_.purge_interval_ms;
  worker_->Start();
  scheduler_->Start();
  started_ = true;
  return {};
}

void Engine::Quiesce() {
  quiescing_ = true;
  // Waiting pulls get an empty answer now rather than at their deadline.
  std::multimap<int64_t, std::shared_ptr<Waiter>> waiting;
  {
    std::lock_guard lock(waiters_mu_);
    waiting.swap(deadlines_);
    waiting_.clear();
  }
  for (auto& [deadline, waiter] : waiting) waiter->Answer(std::vector<Task>());
}

void Engine::Stop() {
  if (!started_.exchange(false)) return;
  scheduler_->Stop();
  Quiesce();
  worker_->Stop();
  if (auto synced = store_.Sync(); !synced) {
    spdlog::error("msg=\"final sync failed\" error=\"{}\"", synced.error().message);
  }
}

Error Engine::Overloaded() {
  return Error{Errc::kOverloaded, "server is overloaded (store queue full); retry later"};
}

// --- Adding ---------------------------------------------------------------------------------

void Engine::Add(std::vector<NewTask> tasks, AddDone done) {
  int64_t now = clock_.NowMs();
  std::vector<Task> records;
  records.reserve(tasks.size());
  int64_t earliest = kNoDeadline;
  for (NewTask& in : tasks) {
    Task task;
    task.id = ids_.Next();
    task.topic = std::move(in.topic);
    task.due_at_ms = in.due_at_ms;
    task.created_at_ms = now;
    task.payload = std::move(in.payload);
    task.payload_is_json = in.payload_is_json;
    task.kind = in.kind;
    task.max_attempts = in.max_attempts != 0 ? in.max_attempts : config_.default_max_attempts;
    task.dedup_key = std::move(in.dedup_key);
    task.callback = std::move(in.callback);
    earliest = std::min(earliest, task.due_at_ms);
    records.push_back(std::move(task));
  }
  std::vector<TaskId> minted;
  minted.reserve(records.size());
  for (const Task& task : records) minted.push_back(task.id);
  auto on_written = [this, minted = std::move(minted), earliest,
                     done = std::move(done)](Result<std::vector<TaskId>> stored) mutable {
    if (!stored) return done(std::unexpected(stored.error()));
    scheduler_->Kick(earliest);
    std::vector<AddedTask> added(stored->size());
    for (size_t i = 0; i < added.size(); ++i) {
      added[i] = AddedTask{(*stored)[i], (*stored)[i] == minted[i]};
    }
    done(std::move(added));
  };
  if (!worker_->SubmitAdd(std::move(records), std::move(on_written))) {
    metrics_.rejected_overload.fetch_add(1, std::memory_order_relaxed);
    // Refused: nothing was moved, so answer here, on the caller's thread.
    on_written(std::unexpected(Overloaded()));
  }
}

// --- Seed pull ------------------------------------------------------------------------------

void Engine::PullOldest(std::string topic, PullDone done) {
  auto job = [this, topic = std::move(topic), done]() {
    int64_t now = clock_.NowMs();
    auto taken = store_.ConsumeDue(topic, 1, now);
    if (!taken) {
      metrics_.store_errors.fetch_add(1, std::memory_order_relaxed);
      return done(std::unexpected(taken.error()));
    }
    if (taken->empty()) return done(std::optional<Task>());
    RecordDelivery(taken->front(), now);
    // A seed pull has no acknowledgement: handing the task out completes it.
    metrics_.topics.Count(taken->front().topic, TopicEvent::kDelivered);
    done(std::optional<Task>(std::move(taken->front())));
  };
  if (!worker_->Submit(std::move(job))) {
    metrics_.rejected_overload.fetch_add(1, std::memory_order_relaxed);
    done(std::unexpected(Overloaded()));
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

// --- v1 pull with leases and long poll ------------------------------------------------------

void Engine::Claim(std::string topic, size_t max, int64_t wait_ms, int64_t lease_ms,
                   TasksDone done) {
  auto waiter = std::make_shared<Waiter>();
  waiter->topic = std::move(topic);
  waiter->max = max;
  waiter->lease_ms = lease_ms;
  waiter->deadline_ms = clock_.NowMs() + std::max<int64_t>(wait_ms, 0);
  waiter->done = std::move(done);
  TryClaim(std::move(waiter));
}

void Engine::TryClaim(std::shared_ptr<Waiter> waiter) {
  auto job = [this, waiter]() {
    int64_t now = clock_.NowMs();
    auto taken = store_.ClaimDue(waiter->topic, DeliveryKind::kPull, waiter->max, now,
                                 now + waiter->lease_ms);
    if (!taken) {
      metrics_.store_errors.fetch_add(1, std::memory_order_relaxed);
      return waiter->Answer(std::unexpected(taken.error()));
    }
    if (!taken->empty() || now >= waiter->deadline_ms || quiescing_) {
      for (const Task& task : *taken) RecordDelivery(task, now);
      return waiter->Answer(std::move(*taken));
    }
    Register(waiter);
  };
  if (!worker_->Submit(std::move(job))) {
    metrics_.rejected_overload.fetch_add(1, std::memory_order_relaxed);
    waiter->Answer(std::unexpected(Overloaded()));
  }
}

void Engine::Register(std::shared_ptr<Waiter> waiter) {
  {
    std::lock_guard lock(waiters_mu_);
    waiter->registered = true;
    waiting_[waiter->topic].push_back(waiter);
    deadlines_.emplace(waiter->deadline_ms, waiter);
  }
  scheduler_->Kick(waiter->deadline_ms);
  // A task may have fallen due between the claim and the registration, its wake-up gone
  // to nobody: look once more.
  if (store_.HasDue(waiter->topic, DeliveryKind::kPull, clock_.NowMs())) {
    WakeWaiters(waiter->topic);
  }
}

void Engine::WakeWaiters(const std::string& topic) {
  std::vector<std::shared_ptr<Waiter>> woken;
  {
    std::lock_guard lock(waiters_mu_);
    auto it = waiting_.find(topic);
    if (it == waiting_.end()) return;
    woken.swap(it->second);
    waiting_.erase(it);
    for (auto& waiter : woken) waiter->registered = false;
  }
  // Every waiter tries; those that find nothing register again (their deadline stands).
  for (auto& waiter : woken) {
    if (!waiter->answered) TryClaim(std::move(waiter));
  }
}

Engine::TaskDone Engine::CountOutcome(TaskDone done) {
  return [this, done = std::move(done)](Result<Task> task) {
    if (task) {
      switch (task->state) {
        case TaskState::kDone:
          metrics_.topics.Count(task->topic, TopicEvent::kDelivered);
          break;
        case TaskState::kDead:
          metrics_.topics.Count(task->topic, TopicEvent::kFailed);
          metrics_.topics.Count(task->topic, TopicEvent::kDead);
          break;
        case TaskState::kScheduled:  // nacked, due again later
          metrics_.topics.Count(task->topic, TopicEvent::kFailed);
          break;
        case TaskState::kCancelled:
          metrics_.topics.Count(task->topic, TopicEvent::kCancelled);
          break;
        default:
          break;
      }
    }
    done(std::move(task));
  };
}

void Engine::Ack(TaskId id, uint64_t lease_token, TaskDone done) {
  RunOnWorker([this, id, lease_token](int64_t now) { return store_.Ack(id, lease_token, now); },
              CountOutcome(std::move(done)), false);
}

void Engine::Nack(TaskId id, uint64_t lease_token, int64_t delay_ms, TaskDone done) {
  RunOnWorker(
      [this, id, lease_token, delay_ms](int64_t now) {
        return store_.Nack(id, lease_token, now + std::max<int64_t>(delay_ms, 0),
                           "nacked by consumer", now);
      },
      CountOutcome(std::move(done)), true);
}

void Engine::Cancel(TaskId id, TaskDone done) {
  RunOnWorker([this, id](int64_t now) { return store_.Cancel(id, now); },
              CountOutcome(std::move(done)), false);
}

void Engine::Reschedule(TaskId id, int64_t due_at_ms, TaskDone done) {
  RunOnWorker([this, id, due_at_ms](int64_t now) { return store_.Reschedule(id, due_at_ms, now); },
              std::move(done), true);
}

void Engine::Redrive(TaskId id, TaskDone done) {
  RunOnWorker([this, id](int64_t now) { return store_.Redrive(id, now); }, std::move(done), true);
}

void Engine::RunOnWorker(std::function<Result<Task>(int64_t)> op, TaskDone done, bool kick_at_due) {
  auto job = [this, op = std::move(op), done, kick_at_due]() {
    auto task = op(clock_.NowMs());
    if (task && kick_at_due && task->state == TaskState::kScheduled) {
      scheduler_->Kick(task->due_at_ms);
    }
    done(std::move(task));
  };
  if (!worker_->Submit(std::move(job))) {
    metrics_.rejected_overload.fetch_add(1, std::memory_order_relaxed);
    done(std::unexpected(Overloaded()));
  }
}

// --- Reads ----------------------------------------------------------------------------------

Result<Task> Engine::Get(TaskId id) { return store_.Get(id); }

Result<std::vector<Task>> Engine::ListDead(const std::string& topic, TaskId after_id,
                                           size_t limit) {
  return store_.ListDead(topic, after_id, limit);
}

Result<std::vector<store::TopicStats>> Engine::Topics(const std::string& topic) {
  return store_.Topics(topic, clock_.NowMs());
}

bool Engine::Ready() { return started_ && store_.Healthy(); }

void Engine::RecordDelivery(const Task& task, int64_t now_ms) {
  metrics_.tasks_delivered.fetch_add(1, std::memory_order_relaxed);
  // Lateness is a property of the schedule: count first deliveries only, not retries.
  if (task.attempts <= 1) {
    metrics_.delivery_lateness.ObserveMillis(now_ms - task.due_at_ms);
    metrics_.topics.Count(task.topic, TopicEvent::kFired);
    lateness_.Record(now_ms, now_ms - task.due_at_ms);
  }
}

// --- Scheduler thread -----------------------------------------------------------------------

void Engine::OnPromoted(const store::PromoteResult& result, int64_t now_ms) {
  metrics_.tasks_promoted.fetch_add(result.promoted, std::memory_order_relaxed);
  for (const std::string& topic : result.topics_ready) WakeWaiters(topic);
  for (const std::string& topic : result.callback_topics_ready) PumpCallbacks(topic);
  if (result.leases_expired && !expiry_queued_.exchange(true)) {
    auto job = [this] {
      int64_t now = clock_.NowMs();
      auto expired = store_.ExpireLeases(now, kExpireSlice);
      expiry_queued_ = false;
      if (!expired) {
        spdlog::warn("msg=\"lease expiry failed\" error=\"{}\"", expired.error().message);
      } else if (*expired > 0) {
        metrics_.leases_expired.fetch_add(*expired, std::memory_order_relaxed);
        scheduler_->Kick(now);  // the tasks are due again now
      }
    };
    if (!worker_->Submit(std::move(job))) expiry_queued_ = false;  // next round retries
  }
  (void)now_ms;
}

int64_t Engine::OnTick(int64_t now_ms) {
  if (now_ms >= next_purge_ms_) {
    Purge();
    next_purge_ms_ = now_ms + config_.purge_interval_ms;
  }
  std::vector<std::shared_ptr<Waiter>> expired;
  int64_t next = next_purge_ms_;
  {
    std::lock_guard lock(waiters_mu_);
    while (!deadlines_.empty() && deadlines_.begin()->first <= now_ms) {
      std::shared_ptr<Waiter> waiter = std::move(deadlines_.begin()->second);
      deadlines_.erase(deadlines_.begin());
      // A waiter not registered is in a claim job, which sees the deadline itself.
      if (!waiter->registered) continue;
      auto& list = waiting_[waiter->topic];
      list.erase(std::remove(list.begin(), list.end(), waiter), list.end());
      if (list.empty()) waiting_.erase(waiter->topic);
      waiter->registered = false;
      expired.push_back(std::move(waiter));
    }
    if (!deadlines_.empty()) next = std::min(next, deadlines_.begin()->first);
  }
  for (auto& waiter : expired) waiter->Answer(std::vector<Task>());
  // Topics held back by their rate limit: try again when a token is due.
  std::vector<std::string> unblocked;
  {
    std::lock_guard lock(lanes_mu_);
    for (auto& [topic, lane] : lanes_) {
      if (lane.blocked_until_ms == 0) continue;
      if (lane.blocked_until_ms <= now_ms) {
        lane.blocked_until_ms = 0;
        unblocked.push_back(topic);
      } else {
        next = std::min(next, lane.blocked_until_ms);
      }
    }
  }
  for (const std::string& topic : unblocked) PumpCallbacks(topic);
  return next;
}

// --- Callback delivery ----------------------------------------------------------------------
//
// Per topic, at most max_in_flight callbacks are claimed and handed to the sink at once
// (and at most rate_limit per second start), so that a slow or dead receiver only holds
// its own topic's slots. Claims take tasks oldest due first from the topic's callback
// lane; each completion frees a slot and claims more if more are due.

EngineConfig::TopicLimits Engine::LimitsFor(const std::string& topic) const {
  auto limits = topic_limits_.load(std::memory_order_acquire);
  auto it = limits->find(topic);
  return it == limits->end() ? config_.default_topic_limits : it->second;
}

void Engine::SetTopicLimits(std::map<std::string, EngineConfig::TopicLimits> limits) {
  topic_limits_.store(
      std::make_shared<const std::map<std::string, EngineConfig::TopicLimits>>(std::move(limits)),
      std::memory_order_release);
}

void Engine::PumpCallbacks(const std::string& topic) {
  if (callbacks_ == nullptr || quiescing_) return;
  const EngineConfig::TopicLimits limits = LimitsFor(topic);
  int64_t now = clock_.NowMs();
  size_t slots = 0;
  {
    std::lock_guard lock(lanes_mu_);
    CallbackLane& lane = lanes_[topic];
    size_t busy = lane.in_flight + lane.claiming;
    if (busy >= limits.max_in_flight) return;
    slots = limits.max_in_flight - busy;
    if (limits.rate_limit > 0) {
      // Token bucket holding one second's worth (at least one token, so that rates below
      // one per second still send); starts full.
      double capacity = std::max(1.0, limits.rate_limit);
      if (lane.refilled_at_ms == 0) {
        lane.tokens = capacity;
      } else {
        double elapsed_s = static_cast<double>(now - lane.refilled_at_ms) / 1000.0;
        lane.tokens = std::min(capacity, lane.tokens + elapsed_s * limits.rate_limit);
      }
      lane.refilled_at_ms = now;
      if (lane.tokens < 1) {
        int64_t wait_ms = static_cast<int64_t>((1 - lane.tokens) * 1000.0 / limits.rate_limit);
        lane.blocked_until_ms = now + std::max<int64_t>(1, wait_ms);
        scheduler_->Kick(lane.blocked_until_ms);
        return;
      }
      slots = std::min(slots, static_cast<size_t>(lane.tokens));
      lane.tokens -= static_cast<double>(slots);
    }
    lane.claiming += slots;
  }
  auto job = [this, topic, slots, rate_limited = limits.rate_limit > 0] {
    int64_t now = clock_.NowMs();
    auto claimed = store_.ClaimDue(topic, DeliveryKind::kCallback, slots, now,
                                   now + config_.callback_lease_ms);
    size_t taken = claimed ? claimed->size() : 0;
    {
      std::lock_guard lock(lanes_mu_);
      CallbackLane& lane = lanes_[topic];
      lane.claiming -= slots;
      lane.in_flight += taken;
      if (rate_limited) lane.tokens += static_cast<double>(slots - taken);  // unused tokens
    }
    if (!claimed) {
      metrics_.store_errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("msg=\"callback claim failed\" topic={} error=\"{}\"", topic,
                   claimed.error().message);
      RetryPumpLater(topic);
      return;
    }
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
    if (taken == slots) PumpCallbacks(topic);  // a full claim: more may be due
  };
  if (!worker_->Submit(std::move(job))) {
    {
      std::lock_guard lock(lanes_mu_);
      lanes_[topic].claiming -= slots;
    }
    RetryPumpLater(topic);
  }
}

// The due tasks are still in the topic's lane; nothing else may wake it (no new task
// falls due, no call is in flight), so the scheduler's tick tries again shortly.
void Engine::RetryPumpLater(const std::string& topic) {
  int64_t at = clock_.NowMs() + kClaimRetryMs;
  {
    std::lock_guard lock(lanes_mu_);
    CallbackLane& lane = lanes_[topic];
    if (lane.blocked_until_ms == 0 || lane.blocked_until_ms > at) lane.blocked_until_ms = at;
  }
  scheduler_->Kick(at);
}

bool Engine::WaitForCallbacks(std::chrono::milliseconds grace) {
  auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    size_t busy = 0;
    {
      std::lock_guard lock(lanes_mu_);
      for (const auto& [topic, lane] : lanes_) busy += lane.in_flight + lane.claiming;
    }
    if (busy == 0) return true;
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
  auto job = [this, task, outcome, random01] {
    int64_t now = clock_.NowMs();
    Result<Task> recorded =
        outcome.ok()
            ? store_.Ack(task.id, task.lease_token, now)
            : store_.Nack(task.id, task.lease_token,
                          now + config_.retry.DelayMs(task.attempts, random01), outcome.error, now);
    if (!recorded) {
      // kConflict: the lease ran out before the answer came and the task moved on.
      spdlog::warn("msg=\"callback outcome not recorded\" task={} error=\"{}\"", task.id,
                   recorded.error().message);
    } else if (recorded->state == TaskState::kDead) {
      metrics_.callbacks_dead.fetch_add(1, std::memory_order_relaxed);
      metrics_.topics.Count(task.topic, TopicEvent::kFailed);
      metrics_.topics.Count(task.topic, TopicEvent::kDead);
    } else if (recorded->state == TaskState::kScheduled) {
      metrics_.topics.Count(task.topic, TopicEvent::kFailed);
      scheduler_->Kick(recorded->due_at_ms);
    } else if (recorded->state == TaskState::kDone) {
      metrics_.topics.Count(task.topic, TopicEvent::kDelivered);
    }
    {
      std::lock_guard lock(lanes_mu_);
      lanes_[task.topic].in_flight -= 1;
    }
    if (store_.HasDue(task.topic, DeliveryKind::kCallback, now)) PumpCallbacks(task.topic);
  };
  if (!worker_->Submit(std::move(job))) {
    // The outcome is lost; the task stays delivering until its lease expires and is then
    // delivered again (at-least-once).
    std::lock_guard lock(lanes_mu_);
    lanes_[task.topic].in_flight -= 1;
  }
}

void Engine::Purge() { PurgeSlice(kPurgeSlicesPerRound); }

// One slice per store job, chained while slices come back full, so that a large backlog
// of expired records does not hold the store worker for long at a stretch.
void Engine::PurgeSlice(int slices_left) {
  auto job = [this, slices_left] {
    int64_t before = clock_.NowMs() - config_.retention_ms;
    auto purged = store_.PurgeFinished(before, kPurgeSlice);
    if (!purged) {
      spdlog::warn("msg=\"purge failed\" error=\"{}\"", purged.error().message);
    } else if (*purged == kPurgeSlice && slices_left > 1) {
      PurgeSlice(slices_left - 1);
    }
  };
  // A full queue skips this round; the next interval tries again.
  (void)worker_->Submit(std::move(job));
}

}  // namespace delayq::engine
