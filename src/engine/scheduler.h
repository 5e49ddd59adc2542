#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "store/store.h"

namespace delayq::engine {

// The thread that moves time forward: it sleeps until the store's next deadline (or an
// earlier kick from a new add), calls Store::Promote, and reports topics that received
// due tasks. It also triggers the retention purge on a fixed interval.
inline constexpr int64_t kAwake = std::numeric_limits<int64_t>::max();

class Scheduler {
 public:
  using TopicsReady = std::function<void(const std::vector<std::string>& topics)>;
  using PurgeTick = std::function<void()>;

  Scheduler(store::Store& store, const Clock& clock, int64_t purge_interval_ms,
            TopicsReady on_ready, PurgeTick on_purge);
  ~Scheduler();

  void Start();
  void Stop();

  // A task due at `due_at_ms` entered the near window: wake early if that is before the
  // planned wake-up. Cheap; called on the store worker after each add round.
  void Kick(int64_t due_at_ms);

 private:
  void Run();

  store::Store& store_;
  const Clock& clock_;
  const int64_t purge_interval_ms_;
  TopicsReady on_ready_;
  PurgeTick on_purge_;

  std::mutex mu_;
  std::condition_variable wake_;
  // While the thread is awake this is kAwake, so that a kick arriving between Promote and
  // the next sleep is not lost.
  int64_t planned_wake_ms_ = kAwake;
  bool kicked_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace delayq::engine
