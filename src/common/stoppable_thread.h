#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace delayq {

// The one background thread of a component, and the request that stops it. The thread
// sleeps on condition() with mutex() held while it checks; the stop flag is set under that
// mutex, so a stop (or any wake its owner guards with the same mutex) cannot fall between
// the check and the wait and be lost. The owner keeps its own wait conditions under mutex()
// too, and calls Stop() in its destructor before the state the thread reads is destroyed.
class StoppableThread {
 public:
  StoppableThread() = default;
  StoppableThread(const StoppableThread&) = delete;
  StoppableThread& operator=(const StoppableThread&) = delete;
  ~StoppableThread() { Stop(); }

  // Runs `body` on the thread; at most once.
  void Start(std::function<void()> body) { thread_ = std::thread(std::move(body)); }

  // Sets the stop flag and wakes the thread; true for the first call only. For a thread that
  // sleeps elsewhere (in a poll call), the owner wakes it there and then calls Join().
  bool RequestStop() {
    bool first;
    {
      std::lock_guard lock(mu_);
      first = !stopping_.exchange(true);
    }
    wake_.notify_all();
    return first;
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  // Asks the thread to stop and waits until it has; safe if never started, and idempotent.
  void Stop() {
    RequestStop();
    Join();
  }

  // Readable with or without mutex(); stays true once set.
  bool stopping() const { return stopping_.load(); }

  std::mutex& mutex() const { return mu_; }
  std::condition_variable& condition() { return wake_; }

  // With `lock` holding mutex(): sleeps until `ready()`, a stop, or `timeout`. False when
  // stopping.
  template <class Ready>
  bool WaitFor(std::unique_lock<std::mutex>& lock, std::chrono::milliseconds timeout, Ready ready) {
    wake_.wait_for(lock, timeout, [&] { return stopping() || ready(); });
    return !stopping();
  }
  // With `lock` holding mutex(): sleeps until `ready()` or a stop. False when stopping.
  template <class Ready>
  bool Wait(std::unique_lock<std::mutex>& lock, Ready ready) {
    wake_.wait(lock, [&] { return stopping() || ready(); });
    return !stopping();
  }
  // Sleeps for `timeout` unless stopped first (takes mutex() itself). False when stopping.
  bool SleepFor(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return WaitFor(lock, timeout, [] { return false; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<bool> stopping_ = false;
  std::thread thread_;
};

}  // namespace delayq
