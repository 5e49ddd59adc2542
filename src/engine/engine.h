#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/defaults.h"
#include "common/result.h"
#include "common/snapshot.h"
#include "engine/callback_lanes.h"
#include "engine/callback_sink.h"
#include "engine/lateness_window.h"
#include "engine/metrics.h"
#include "engine/scheduler.h"
#include "queue/ids.h"
#include "queue/retry_policy.h"
#include "queue/task.h"
#include "schedule/schedule.h"
#include "store/store.h"

namespace delayq::engine {

class StoreWorker;

struct EngineConfig {
  uint32_t node_id = 0;
  int64_t retention_ms = defaults::kRetentionMs;
  int64_t purge_interval_ms = defaults::kPurgeIntervalMs;
  // Work waiting for the store worker (tasks + operations) before requests are refused
  // with "overloaded": bounds memory and latency when the disk cannot keep up.
  size_t max_queued = defaults::kMaxQueued;
  // max_attempts of a task that does not say.
  uint32_t default_max_attempts = defaults::kMaxAttempts;

  // Callback delivery.
  RetryPolicy retry;
  // A delivering task whose answer has not come back within this is due again (covers a
  // crash while callbacks were in flight); must exceed the longest delivery may take (serve
  // derives it from callbacks.timeout and the Kafka message timeout: wiring.cc).
  int64_t callback_lease_ms = defaults::kCallbackTimeoutMs + defaults::kDeliveryLeaseMarginMs;
  using TopicLimits = engine::TopicLimits;
  TopicLimits default_topic_limits;
  std::map<std::string, TopicLimits> topic_limits;  // overrides by topic name
  // Callbacks in flight over all topics (claimed and handed to the sink, plus claim jobs
  // queued). Bounds what the HTTP client holds at once however many topics are due;
  // topics due beyond it wait in the engine's FIFO of lanes (docs/ARCHITECTURE.md).
  // 256, not more: calls beyond what libcurl can run at once (callbacks.max_per_host per
  // receiver) wait in libcurl's queue, whose cost per finished call grows with its length
  // (100,000 topics to one receiver: p99 3.3 s at 1024, 1.1 s at 256; BENCHMARKS.md).
  size_t max_callbacks_in_flight = defaults::kCallbackMaxInFlight;

  // Topics with their own series in /metrics; later ones are counted as "_other".
  size_t metrics_max_topics = defaults::kMetricsMaxTopics;

  // Schedules: 0 when this engine is the only one changing them (embedded store); with a
  // shared store, how often to look for schedules other instances made or moved.
  int64_t schedule_poll_ms = 0;
};

// A recurring schedule as the engine hands it to the API.
struct ScheduleInfo {
  std::string name;
  schedule::Definition definition;
  schedule::Progress progress;
  uint64_t version = 0;  // the store's
  bool created = false;  // PutSchedule: made now, not replaced or unchanged
};

struct TriggeredTask {
  TaskId id = 0;
  int64_t occurrence_ms = 0;
};

// A task as the API hands it over: validated, not yet given an id.
struct NewTask {
  std::string topic;
  int64_t due_at_ms = 0;
  std::string payload;
  bool payload_is_json = false;
  DeliveryKind kind = DeliveryKind::kPull;
  uint32_t max_attempts = 0;  // 0: EngineConfig::default_max_attempts
  std::string dedup_key;
  std::string callback;     // kCallback: the target spec (delivery/callback_spec.h)
  std::string traceparent;  // validated W3C trace context (common/trace_context.h), or ""
  std::string tracestate;
};

struct AddedTask {
  TaskId id = 0;
  bool created = true;  // false: dedup_key matched an existing task, whose id this is
};

// The queue behind both front doors (seed API, v1 API). Callbacks passed to the async
// operations run on the store worker thread (or on the caller's thread when refused),
// exactly once each; they must not block.
class Engine final : private SchedulerListener {
 public:
  // `callbacks` receives due callback tasks; it must outlive the engine (may be null when
  // no callback task can exist, e.g. in tests of the pull paths).
  Engine(store::Store& store, const Clock& clock, EngineConfig config,
         CallbackSink* callbacks = nullptr);
  ~Engine() override;

  // Reads the store's largest id (ids never go below it) and starts the threads.
  Result<void> Start();
  // First step of a shutdown: waiting pulls are answered now (empty) and new pulls do not
  // wait, so that the server can answer every request in flight before it stops.
  void Quiesce();
  // After Quiesce: waits up to `grace` for callbacks in flight to be answered and their
  // outcome recorded (an answered call not recorded would be sent again after a restart).
  // False if some were still in flight.
  bool WaitForCallbacks(std::chrono::milliseconds grace);
  // Answers waiting pulls, finishes queued work, stops the threads, syncs the store.
  void Stop();

  using AddDone = std::function<void(Result<std::vector<AddedTask>>)>;
  // All tasks or none; `done` runs once they are durable.
  void Add(std::vector<NewTask> tasks, AddDone done);

  using TaskDone = std::function<void(Result<Task>)>;
  using PullDone = std::function<void(Result<std::optional<Task>>)>;
  using TasksDone = std::function<void(Result<std::vector<Task>>)>;

  // Seed pull: the oldest due pull task of the topic, marked done; nullopt when none.
  void PullOldest(std::string topic, PullDone done);
  // Seed pull by id (kNotFound / kNotDue as in Store::ConsumeById).
  void PullById(std::string topic, TaskId id, PullDone done);

  // v1 pull: up to `max` due tasks under a lease of `lease_ms`. With nothing due, waits up
  // to `wait_ms` and answers as soon as a task of the topic falls due (long poll).
  void Claim(std::string topic, size_t max, int64_t wait_ms, int64_t lease_ms, TasksDone done);
  void Ack(TaskId id, uint64_t lease_token, TaskDone done);
  // Due again after `delay_ms` (or dead when out of attempts).
  void Nack(TaskId id, uint64_t lease_token, int64_t delay_ms, TaskDone done);
  // Acks and nacks many leases with one submission: they are recorded in one store worker
  // round (one Store::Settle with the round's other settlements). `done` gets, per entry in
  // order, what Ack or Nack would have answered, counted in the same metrics; it fails as a
  // whole (kOverloaded, nothing applied) only when the worker refuses the submission.
  struct LeaseEnd {
    TaskId id = 0;
    uint64_t lease_token = 0;
    bool nack = false;
    int64_t delay_ms = 0;  // nack: due again after this long
  };
  using SettledDone = std::function<void(Result<std::vector<Result<Task>>>)>;
  void SettleMany(std::vector<LeaseEnd> ends, SettledDone done);
  // Moves a current lease's deadline to now + `lease_ms` (Store::ExtendLease).
  void Extend(TaskId id, uint64_t lease_token, int64_t lease_ms, TaskDone done);
  void Cancel(TaskId id, TaskDone done);
  void Reschedule(TaskId id, int64_t due_at_ms, TaskDone done);
  void Redrive(TaskId id, TaskDone done);

  // Redrives (as Redrive) or deletes for good the first `limit` dead tasks of a topic, on the
  // store worker (Store::RedriveDead, DeleteDead; engine_dead.cc).
  using DeadBulkDone = std::function<void(Result<store::DeadBulkResult>)>;
  void RedriveDead(std::string topic, size_t limit, DeadBulkDone done);
  void DeleteDead(std::string topic, size_t limit, DeadBulkDone done);

  using TopicDone = std::function<void(Result<store::TopicStats>)>;
  // Pauses or resumes the deliveries of a topic (Store::SetPaused) on the store worker and
  // answers the topic as it is then. Leases and calls already out finish; a resume wakes the
  // topic's long polls and claims its due callbacks, oldest first (engine_topics.cc).
  void SetTopicPaused(std::string topic, bool paused, TopicDone done);

  // Reads from any thread; never wait for the store worker.
  Result<Task> Get(TaskId id);
  Result<std::vector<Task>> ListDead(const std::string& topic, TaskId after_id, size_t limit);
  Result<std::vector<store::TopicStats>> Topics(const std::string& topic);
  // A page of a topic's scheduled tasks in due order (Store::ListScheduled).
  Result<store::ScheduledPage> ListScheduled(const store::ScheduledQuery& query);
  // Tasks falling due in `buckets` buckets of `bucket_ms` from now (Store::Horizon); `topic`
  // "" for all topics.
  Result<store::HorizonCounts> Horizon(const std::string& topic, int64_t bucket_ms, size_t buckets,
                                       int64_t now_ms);

  // --- Schedules (engine_schedules.cc) -------------------------------------------------------
  // Each occurrence of a schedule becomes one ordinary task, made when the previous occurrence
  // falls due (or when the schedule starts), identified by the schedule and the occurrence, so
  // that no restart and no number of instances makes two. Changes run on the store worker;
  // `done` as for tasks. Definitions must be valid (the API checks them).

  using ScheduleDone = std::function<void(Result<ScheduleInfo>)>;
  // Creates or replaces; an identical definition changes nothing.
  void PutSchedule(std::string name, schedule::Definition definition, ScheduleDone done);
  // Answers the schedule as it was (kNotFound if none); its pending occurrence is cancelled.
  void DeleteSchedule(std::string name, ScheduleDone done);
  void PauseSchedule(std::string name, ScheduleDone done);
  // Occurrences while paused are not caught up: the next one after now fires.
  void ResumeSchedule(std::string name, ScheduleDone done);
  // One task now, outside the timing (occurrence_ms: now).
  void TriggerSchedule(std::string name, std::function<void(Result<TriggeredTask>)> done);
  // Reads from any thread.
  Result<ScheduleInfo> GetSchedule(const std::string& name);
  Result<std::vector<ScheduleInfo>> ListSchedules(const std::string& topic,
                                                  const std::string& after_name, size_t limit);

  bool Ready();
  // Why the store is not ready (its last write error, or a full disk); may be empty.
  std::string StoreProblem() { return store_.HealthProblem(); }
  int64_t NowMs() const { return clock_.NowMs(); }
  // v1 pulls registered and waiting for a task (long polls), for /metrics.
  size_t PullsWaiting() const;
  const Metrics& metrics() const { return metrics_; }
  const LatenessWindow& lateness() const { return lateness_; }

  // Replaces the per-topic callback limits (EngineConfig::topic_limits) at run time, for the
  // config centre; callbacks claimed from now on follow them. Any thread.
  void SetTopicLimits(std::map<std::string, EngineConfig::TopicLimits> limits);
  // The callback limits in force for `topic` (its own, or the default). Any thread.
  EngineConfig::TopicLimits LimitsOf(const std::string& topic) const { return LimitsFor(topic); }
  store::StoreStats StoreStats() const { return store_.Stats(); }

 private:
  struct Waiter;
  // SchedulerListener, on the scheduler thread.
  void OnPromoted(const store::PromoteResult& result, int64_t now_ms) override;
  int64_t OnTick(int64_t now_ms) override;

  // Runs `op` on the store worker and hands its result to `done`; refuses when full.
  void RunOnWorker(std::function<Result<Task>(int64_t now_ms)> op, TaskDone done, bool kick_at_due);
  void Settle(store::Settlement settlement, TaskDone done);
  void TryClaim(std::shared_ptr<Waiter> waiter);
  void RunSeedPulls();  // engine_seed_pull.cc, on the store worker
  void Register(std::shared_ptr<Waiter> waiter);
  void WakeWaiters(const std::string& topic);
  void PumpCallbacks(const std::string& topic);
  void RunClaim(const std::string& topic);
  void SubmitClaims(std::vector<std::string> topics);
  void RetryPumpLater(const std::string& topic);
  void ReleaseCallbackSlot(const std::string& topic, bool more_due);
  void OnCallbackDone(const Task& task, const CallbackOutcome& outcome);
  EngineConfig::TopicLimits LimitsFor(const std::string& topic) const;
  void Purge();
  void PurgeSlice(int slices_left);
  void RecordDelivery(const Task& task, int64_t now_ms);
  // Wraps `done` so that the task state it reports is counted in the per-topic series.
  TaskDone CountOutcome(TaskDone done);
  void CountState(const Task& task);
  store::Settlement SettlementOf(TaskId id, uint64_t lease_token, bool nack, int64_t delay_ms);
  static Error Overloaded();

  // Schedules (engine_schedules.cc), on the store worker (or in Start, before the threads).
  void RunScheduleRound();
  void StepSchedule(const ScheduleInfo& schedule, int64_t now_ms);
  void RepairPending(const ScheduleInfo& schedule);
  void AddOccurrences(const ScheduleInfo& schedule, const std::vector<int64_t>& occurrences,
                      const std::vector<TaskId>& ids, int64_t now_ms);
  Result<std::optional<ScheduleInfo>> ReadSchedule(const std::string& name);
  Result<uint64_t> WriteSchedule(const ScheduleInfo& schedule, uint64_t expected_version);
  void CancelPendingAfter(const ScheduleInfo& old, int64_t now_ms);
  void RefreshNextSchedule(int64_t now_ms);
  // Runs `change` on the worker, again (at most a few times) when another instance changed
  // the schedule meanwhile.
  void RunScheduleChange(std::string name,
                         std::function<Result<ScheduleInfo>(const std::string&, int64_t)> change,
                         ScheduleDone done);
  Result<ScheduleInfo> ChangePut(const std::string& name, const schedule::Definition& definition,
                                 int64_t now_ms);
  Result<ScheduleInfo> ChangePause(const std::string& name, bool pause, int64_t now_ms);
  Result<ScheduleInfo> ChangeDelete(const std::string& name, int64_t now_ms);

  store::Store& store_;
  const Clock& clock_;
  const EngineConfig config_;
  Metrics metrics_;
  LatenessWindow lateness_;
  // config_.topic_limits, replaceable (SetTopicLimits); immutable snapshots.
  Snapshot<std::map<std::string, EngineConfig::TopicLimits>> topic_limits_;
  IdGenerator ids_;
  std::unique_ptr<StoreWorker> worker_;
  std::unique_ptr<Scheduler> scheduler_;
  std::atomic<bool> started_{false};
  std::atomic<bool> quiescing_{false};
  std::atomic<bool> expiry_queued_{false};
  int64_t next_purge_ms_ = 0;    // scheduler thread only
  int64_t next_recover_ms_ = 0;  // scheduler thread only
  // When a schedule next needs a step (the store's earliest next_ms), and whether a round of
  // steps is queued on the worker.
  std::atomic<int64_t> next_schedule_ms_{kNoDeadline};
  std::atomic<bool> schedule_round_queued_{false};
  int64_t next_schedule_poll_ms_ = 0;  // scheduler thread only

  CallbackSink* callbacks_;
  // Guards lanes_. Any thread; never held across a store call or a Submit.
  std::mutex lanes_mu_;
  CallbackLanes lanes_;
  std::mutex jitter_mu_;
  std::mt19937_64 jitter_;

  // Seed pulls of the oldest task waiting for the store worker, answered together by one
  // queued RunSeedPulls (engine_seed_pull.cc).
  struct SeedPull {
    std::string topic;
    PullDone done;
  };
  std::mutex seed_pulls_mu_;
  std::vector<SeedPull> seed_pulls_;
  bool seed_pull_round_queued_ = false;

  mutable std::mutex waiters_mu_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Waiter>>> waiting_;
  std::multimap<int64_t, std::shared_ptr<Waiter>> deadlines_;
};

}  // namespace delayq::engine
