#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "engine/metrics.h"
#include "queue/ids.h"
#include "queue/task.h"
#include "store/store.h"

namespace delayq::engine {

class StoreWorker;
class Scheduler;

struct EngineConfig {
  uint32_t node_id = 0;
  int64_t retention_ms = 72LL * 3600 * 1000;
  int64_t purge_interval_ms = 1000;
  // Work waiting for the store worker (tasks + operations) before adds are refused with
  // "overloaded": bounds memory and latency when the disk cannot keep up.
  size_t max_queued = 200'000;
};

// A task as the API hands it over: validated, not yet given an id.
struct NewTask {
  std::string topic;
  int64_t due_at_ms = 0;
  std::string payload;
  DeliveryKind kind = DeliveryKind::kPull;
};

// The queue behind both front doors (seed API, v1 API). Callbacks passed to the async
// operations run on the store worker thread, exactly once each; they must not block.
class Engine {
 public:
  Engine(store::Store& store, const Clock& clock, EngineConfig config);
  ~Engine();

  // Reads the store's largest id (ids never go below it) and starts the threads.
  Result<void> Start();
  // Finishes queued work, stops the threads and makes buffered writes durable.
  void Stop();

  using AddDone = std::function<void(Result<std::vector<TaskId>>)>;
  // All tasks or none; `done` runs once they are durable.
  void Add(std::vector<NewTask> tasks, AddDone done);

  using PullDone = std::function<void(Result<std::optional<Task>>)>;
  // Seed pull: the oldest due pull task of the topic, marked done; nullopt when none.
  void PullOldest(std::string topic, PullDone done);
  // Seed pull by id (kNotFound / kNotDue as in Store::ConsumeById).
  void PullById(std::string topic, TaskId id, PullDone done);

  // Reads from any thread; never waits for the store worker.
  Result<Task> Get(TaskId id);

  bool Ready() const;
  int64_t NowMs() const { return clock_.NowMs(); }
  const Metrics& metrics() const { return metrics_; }
  store::StoreStats StoreStats() const { return store_.Stats(); }

 private:
  void Purge();
  void RecordDelivery(const Task& task, int64_t now_ms);

  store::Store& store_;
  const Clock& clock_;
  const EngineConfig config_;
  Metrics metrics_;
  IdGenerator ids_;
  std::unique_ptr<StoreWorker> worker_;
  std::unique_ptr<Scheduler> scheduler_;
  std::atomic<bool> started_{false};
};

}  // namespace delayq::engine
