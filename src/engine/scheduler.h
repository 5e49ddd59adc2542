#pragma once

#include <cstdint>
#include <limits>

#include "common/clock.h"
#include "common/stoppable_thread.h"
#include "store/store.h"

namespace delayq::engine {

// What the scheduler reports to, on its own thread. Must not block for long.
class SchedulerListener {
 public:
  virtual ~SchedulerListener() = default;
  // After each Store::Promote.
  virtual void OnPromoted(const store::PromoteResult& result, int64_t now_ms) = 0;
  // Every round: run timers that are due; return the next time this needs a round.
  virtual int64_t OnTick(int64_t now_ms) = 0;
};

// The thread that moves time forward: it sleeps until the store's next deadline, the
// listener's next timer, or an earlier kick, then calls Store::Promote.
class Scheduler {
 public:
  Scheduler(store::Store& store, const Clock& clock, SchedulerListener& listener);
  ~Scheduler();

  void Start();
  void Stop();

  // Something is due at `at_ms` (a task entered the window, a waiter's deadline): wake
  // early if that is before the planned wake-up. Cheap; any thread.
  void Kick(int64_t at_ms);

 private:
  static constexpr int64_t kAwake = std::numeric_limits<int64_t>::max();

  void Run();

  store::Store& store_;
  const Clock& clock_;
  SchedulerListener& listener_;

  // While the thread is awake this is kAwake, so that a kick arriving between Promote and
  // the next sleep is not lost. It and kicked_ are guarded by thread_.mutex().
  int64_t planned_wake_ms_ = kAwake;
  uint64_t failures_ = 0;  // consecutive failed Promote rounds (scheduler thread only)
  bool kicked_ = false;
  StoppableThread thread_;
};

}  // namespace delayq::engine
