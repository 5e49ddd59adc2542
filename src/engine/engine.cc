#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "engine/store_worker.h"
#include "engine/task_log.h"

namespace delayq::engine {

// One purge round deletes at most this many finished tasks per slice, so that the store
// worker stays responsive; slices are separate jobs.
constexpr size_t kPurgeSlice = 1'000;
constexpr int kPurgeSlicesPerRound = 20;
// Expired leases handled per store job.
constexpr size_t kExpireSlice = 10'000;
// While the store cannot write (disk full, I/O error), the scheduler asks it to recover this
// often, so that service comes back without a readiness probe or a restart.
constexpr int64_t kRecoverIntervalMs = 1'000;

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
      worker_(std::make_unique<StoreWorker>(store, clock, metrics_, config.max_queued)),
      scheduler_(std::make_unique<Scheduler>(store, clock, static_cast<SchedulerListener&>(*this))),
      callbacks_(callbacks),
      lanes_(config.max_callbacks_in_flight),
      jitter_(std::random_device{}()) {
  metrics_.topics.TrackRates(&metrics_.rates, &clock_);
}

Engine::~Engine() { Stop(); }

Result<void> Engine::Start() {
  auto max_id = store_.MaxTaskId();
  if (!max_id) return std::unexpected(max_id.error());
  ids_.Observe(*max_id);
  next_purge_ms_ = clock_.NowMs() + config_.purge_interval_ms;
  // Schedules first, before any task fires: a pending occurrence missed while delayq was
  // down is dropped here when its schedule's catch-up policy says so.
  RunScheduleRound();
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
    task.traceparent = std::move(in.traceparent);
    task.tracestate = std::move(in.tracestate);
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

size_t Engine::PullsWaiting() const {
  std::lock_guard lock(waiters_mu_);
  size_t waiting = 0;
  for (const auto& [topic, list] : waiting_) waiting += list.size();
  return waiting;
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
    if (task) CountState(*task);
    done(std::move(task));
  };
}

void Engine::CountState(const Task& task) {
  switch (task.state) {
    case TaskState::kDone:
      metrics_.topics.Count(task.topic, TopicEvent::kDelivered);
      break;
    case TaskState::kDead:
      LogDead(task, task.traceparent);
      metrics_.topics.Count(task.topic, TopicEvent::kFailed);
      metrics_.topics.Count(task.topic, TopicEvent::kDead);
      break;
    case TaskState::kScheduled:  // nacked, due again later
      metrics_.topics.Count(task.topic, TopicEvent::kFailed);
      break;
    case TaskState::kCancelled:
      metrics_.topics.Count(task.topic, TopicEvent::kCancelled);
      break;
    default:
      break;
  }
}

store::Settlement Engine::SettlementOf(TaskId id, uint64_t lease_token, bool nack,
                                       int64_t delay_ms) {
  if (!nack) return store::Settlement{id, lease_token, true, 0, {}};
  return store::Settlement{id, lease_token, false, clock_.NowMs() + std::max<int64_t>(delay_ms, 0),
                           "nacked by consumer"};
}

// Acks and nacks are settlements: the store worker records all of a round's in one write.
void Engine::Ack(TaskId id, uint64_t lease_token, TaskDone done) {
  Settle(SettlementOf(id, lease_token, false, 0), CountOutcome(std::move(done)));
}

void Engine::Nack(TaskId id, uint64_t lease_token, int64_t delay_ms, TaskDone done) {
  Settle(SettlementOf(id, lease_token, true, delay_ms), CountOutcome(std::move(done)));
}

void Engine::SettleMany(std::vector<LeaseEnd> ends, SettledDone done) {
  if (ends.empty()) return done(std::vector<Result<Task>>());
  // Every entry's callback runs on the worker thread, one after another in the same round,
  // so the collection needs no lock; the last one answers.
  struct Collected {
    std::vector<Result<Task>> results;
    size_t left = 0;
    SettledDone done;
  };
  auto collected = std::make_shared<Collected>();
  collected->results.resize(ends.size(), std::unexpected(Overloaded()));
  collected->left = ends.size();
  collected->done = std::move(done);
  std::vector<store::Settlement> settlements;
  std::vector<StoreWorker::SettleDone> each;
  settlements.reserve(ends.size());
  each.reserve(ends.size());
  for (size_t i = 0; i < ends.size(); ++i) {
    const LeaseEnd& end = ends[i];
    settlements.push_back(SettlementOf(end.id, end.lease_token, end.nack, end.delay_ms));
    each.push_back([this, collected, i](Result<Task> task) {
      if (task) {
        CountState(*task);
        if (task->state == TaskState::kScheduled) scheduler_->Kick(task->due_at_ms);
      }
      collected->results[i] = std::move(task);
      if (--collected->left == 0) collected->done(std::move(collected->results));
    });
  }
  if (!worker_->SubmitSettles(std::move(settlements), std::move(each))) {
    metrics_.rejected_overload.fetch_add(1, std::memory_order_relaxed);
    collected->done(std::unexpected(Overloaded()));
  }
}

void Engine::Settle(store::Settlement settlement, TaskDone done) {
  // Copied so that a refused submission (arguments not moved from) can still answer.
  TaskDone answer = done;
  auto on_settled = [this, done = std::move(done)](Result<Task> task) {
    if (task && task->state == TaskState::kScheduled) scheduler_->Kick(task->due_at_ms);
    done(std::move(task));
  };
  if (!worker_->SubmitSettle(std::move(settlement), std::move(on_settled))) {
    metrics_.rejected_overload.fetch_add(1, std::memory_order_relaxed);
    answer(std::unexpected(Overloaded()));
  }
}

void Engine::Extend(TaskId id, uint64_t lease_token, int64_t lease_ms, TaskDone done) {
  RunOnWorker([this, id, lease_token, lease_ms](
                  int64_t now) { return store_.ExtendLease(id, lease_token, now + lease_ms, now); },
              std::move(done), false);
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
  RunOnWorker(
      [this, id](int64_t now) {
        auto task = store_.Redrive(id, now);
        if (task) metrics_.dead_redriven.fetch_add(1, std::memory_order_relaxed);
        return task;
      },
      std::move(done), true);
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

Result<store::ScheduledPage> Engine::ListScheduled(const store::ScheduledQuery& query) {
  return store_.ListScheduled(query);
}

Result<store::HorizonCounts> Engine::Horizon(const std::string& topic, int64_t bucket_ms,
                                             size_t buckets, int64_t now_ms) {
  return store_.Horizon(topic, now_ms, bucket_ms, buckets);
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
  // Cheap while healthy; otherwise one recovery attempt (Store::Healthy).
  if (now_ms >= next_recover_ms_ || now_ms < next_recover_ms_ - kRecoverIntervalMs) {
    (void)store_.Healthy();
    next_recover_ms_ = now_ms + kRecoverIntervalMs;
  }
  std::vector<std::shared_ptr<Waiter>> expired;
  int64_t next = std::min(next_purge_ms_, next_recover_ms_);
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
  // Lanes whose block (rate-limit token, claim retry) has ended.
  std::vector<std::string> unblocked;
  {
    std::lock_guard lock(lanes_mu_);
    unblocked = lanes_.Unblock(now_ms);
    if (auto at = lanes_.NextUnblockMs()) next = std::min(next, *at);
  }
  for (const std::string& topic : unblocked) PumpCallbacks(topic);
  // Schedules: a round of steps on the store worker when one is due (or, with a shared
  // store, every poll). While a round is queued, its end sets the next time and kicks.
  const bool poll = config_.schedule_poll_ms > 0 && now_ms >= next_schedule_poll_ms_;
  if ((now_ms >= next_schedule_ms_ || poll) && !schedule_round_queued_.exchange(true)) {
    if (poll) next_schedule_poll_ms_ = now_ms + config_.schedule_poll_ms;
    bool queued = worker_->Submit([this] {
      RunScheduleRound();
      schedule_round_queued_ = false;
    });
    if (!queued) schedule_round_queued_ = false;
  }
  if (!schedule_round_queued_) next = std::min(next, next_schedule_ms_.load());
  if (config_.schedule_poll_ms > 0) next = std::min(next, next_schedule_poll_ms_);
  return next;
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
