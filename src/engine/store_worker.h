#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/stoppable_thread.h"
#include "engine/metrics.h"
#include "queue/task.h"
#include "store/store.h"

namespace delayq::engine {

// The one thread that changes task state in the store (group commit: the adds of a round share
// one write, and so one fsync).
//
// I/O threads never wait on storage: they queue work here and are called back. Each round
// takes everything queued: all adds go into one Store::Add (one WriteBatch, one fsync),
// then the other jobs run in order. Under load rounds grow by themselves; at idle an add
// costs one fsync. Acks and callback outcomes (settlements) queued in a round are recorded
// with one Store::Settle (one unsynced write) after the adds, before the other jobs: a
// lease reaches its holder only after the claim job's round, so no settlement depends on a
// job of its own round. Serialising state changes on one thread also makes each of them atomic
// with respect to the others without further locking.
class StoreWorker {
 public:
  // The ids stored for the request's tasks, in order (see Store::Add on dedup).
  using AddDone = std::function<void(Result<std::vector<TaskId>>)>;
  using Job = std::function<void()>;
  using SettleDone = std::function<void(Result<Task>)>;

  // `max_queued` bounds the work waiting (tasks + jobs); beyond it Submit* refuse. `clock`
  // stamps settlements (finished_at_ms).
  StoreWorker(store::Store& store, const Clock& clock, Metrics& metrics, size_t max_queued);
  ~StoreWorker();

  void Start();
  // Runs everything already queued, then stops the thread. Later submissions are refused.
  void Stop();

  // False when the queue is full or the worker stopped: the caller answers "overloaded".
  // The arguments are moved from only when accepted, so a refused caller still has them.
  [[nodiscard]] bool SubmitAdd(std::vector<Task>&& tasks, AddDone&& done);
  [[nodiscard]] bool Submit(Job&& job);
  // Ack or nack of one lease; `done` gets what Store::Ack / Store::Nack would return.
  [[nodiscard]] bool SubmitSettle(store::Settlement&& settlement, SettleDone&& done);
  // Many at once, all in the same round (one Store::Settle with the round's others), or none
  // when refused; `done[i]` gets settlement i's outcome. Same size.
  [[nodiscard]] bool SubmitSettles(std::vector<store::Settlement>&& settlements,
                                   std::vector<SettleDone>&& done);

 private:
  struct AddRequest {
    std::vector<Task> tasks;
    AddDone done;
  };

  void Run();
  void CommitAdds(std::vector<AddRequest>& adds);
  void CommitSettles(std::vector<store::Settlement>& settles, std::vector<SettleDone>& done);

  store::Store& store_;
  const Clock& clock_;
  Metrics& metrics_;
  const size_t max_queued_;

  // The queues, queued_ and started_ are guarded by thread_.mutex().
  StoppableThread thread_;
  std::vector<AddRequest> adds_;
  std::vector<Job> jobs_;
  std::vector<store::Settlement> settles_;
  std::vector<SettleDone> settle_done_;  // parallel to settles_
  size_t queued_ = 0;
  bool started_ = false;
};

}  // namespace delayq::engine
