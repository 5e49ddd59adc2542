#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/scheduler.h"
#include "engine/store_worker.h"

namespace delayq::engine {

// One purge round deletes at most this many finished tasks, so that the store worker
// stays responsive; the next round follows one purge interval later.
constexpr size_t kPurgeSlice = 10'000;
constexpr int kPurgeSlicesPerRound = 10;

Engine::Engine(store::Store& store, const Clock& clock, EngineConfig config)
    : store_(store),
      clock_(clock),
      config_(config),
      ids_(config.node_id, clock),
      worker_(std::make_unique<StoreWorker>(store, metrics_, config.max_queued)),
      scheduler_(std::make_unique<Scheduler>(
          store, clock, config.purge_interval_ms,
          [this](const std::vector<std::string>&) {
            // Seed consumers poll; long-poll waiters (v1) are woken here.
          },
          [this] { Purge(); })) {}

Engine::~Engine() { Stop(); }

Result<void> Engine::Start() {
  auto max_id = store_.MaxTaskId();
  if (!max_id) return std::unexpected(max_id.error());
  ids_.Observe(*max_id);
  worker_->Start();
  scheduler_->Start();
  started_ = true;
  return {};
}

void Engine::Stop() {
  if (!started_) return;
  started_ = false;
  scheduler_->Stop();
  worker_->Stop();
  if (auto synced = store_.Sync(); !synced) {
    spdlog::error("msg=\"final sync failed\" error=\"{}\"", synced.error().message);
  }
}

void Engine::Add(std::vector<NewTask> tasks, AddDone done) {
  int64_t now = clock_.NowMs();
  std::vector<Task> records;
  std::vector<TaskId> ids;
  records.reserve(tasks.size());
  ids.reserve(tasks.size());
  int64_t earliest = kNoDeadline;
  for (NewTask& in : tasks) {
    Task task;
    task.id = ids_.Next();
    task.topic = std::move(in.topic);
    task.due_at_ms = in.due_at_ms;
    task.created_at_ms = now;
    task.payload = std::move(in.payload);
    task.kind = in.kind;
    ids.push_back(task.id);
    earliest = std::min(earliest, task.due_at_ms);
    records.push_back(std::move(task));
  }
  auto on_written = [this, ids = std::move(ids), earliest,
                     done = std::move(done)](Result<void> written) mutable {
    if (!written) return done(std::unexpected(written.error()));
    scheduler_->Kick(earliest);
    done(std::move(ids));
  };
  if (!worker_->SubmitAdd(std::move(records), std::move(on_written))) {
    metrics_.rejected_overload.fetch_add(1, std::memory_order_relaxed);
    // Refused: nothing was moved, so answer here, on the caller's thread.
    on_written(Fail(Errc::kOverloaded, "server is overloaded (store queue full); retry later"));
  }
}

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
    done(std::optional<Task>(std::move(taken->front())));
  };
  if (!worker_->Submit(std::move(job))) {
    metrics_.rejected_overload.fetch_add(1, std::memory_order_relaxed);
    done(Fail(Errc::kOverloaded, "server is overloaded (store queue full); retry later"));
  }
}

void Engine::PullById(std::string topic, TaskId id, PullDone done) {
  auto job = [this, topic = std::move(topic), id, done]() {
    int64_t now = clock_.NowMs();
    auto taken = store_.ConsumeById(topic, id, now);
    if (!taken) return done(std::unexpected(taken.error()));
    RecordDelivery(*taken, now);
    done(std::optional<Task>(std::move(*taken)));
  };
  if (!worker_->Submit(std::move(job))) {
    metrics_.rejected_overload.fetch_add(1, std::memory_order_relaxed);
    done(Fail(Errc::kOverloaded, "server is overloaded (store queue full); retry later"));
  }
}

Result<Task> Engine::Get(TaskId id) { return store_.Get(id); }

bool Engine::Ready() const { return started_ && store_.Healthy(); }

void Engine::RecordDelivery(const Task& task, int64_t now_ms) {
  metrics_.tasks_delivered.fetch_add(1, std::memory_order_relaxed);
  metrics_.delivery_lateness.Observe(now_ms - task.due_at_ms);
}

void Engine::Purge() {
  auto job = [this] {
    int64_t before = clock_.NowMs() - config_.retention_ms;
    for (int i = 0; i < kPurgeSlicesPerRound; ++i) {
      auto purged = store_.PurgeFinished(before, kPurgeSlice);
      if (!purged) {
        spdlog::warn("msg=\"purge failed\" error=\"{}\"", purged.error().message);
        return;
      }
      if (*purged < kPurgeSlice) return;
    }
  };
  // A full queue skips this round; the next interval tries again.
  (void)worker_->Submit(std::move(job));
}

}  // namespace delayq::engine
