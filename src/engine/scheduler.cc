#include "engine/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>

namespace delayq::engine {

// After a storage error, try again this much later rather than spinning.
constexpr int64_t kErrorBackoffMs = 100;
// Sleep at most this long even with nothing scheduled, so that a stepped wall clock is
// noticed within a second.
constexpr int64_t kMaxSleepMs = 1000;

Scheduler::Scheduler(store::Store& store, const Clock& clock, int64_t purge_interval_ms,
                     TopicsReady on_ready, PurgeTick on_purge)
    : store_(store),
      clock_(clock),
      purge_interval_ms_(purge_interval_ms),
      on_ready_(std::move(on_ready)),
      on_purge_(std::move(on_purge)) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Scheduler::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::Kick(int64_t due_at_ms) {
  {
    std::lock_guard lock(mu_);
    if (due_at_ms >= planned_wake_ms_) return;
    kicked_ = true;
  }
  wake_.notify_one();
}

void Scheduler::Run() {
  int64_t next_purge_ms = clock_.NowMs() + purge_interval_ms_;
  for (;;) {
    int64_t now = clock_.NowMs();
    int64_t wake_at;
    auto promoted = store_.Promote(now);
    if (promoted) {
      if (!promoted->topics_ready.empty()) on_ready_(promoted->topics_ready);
      wake_at = promoted->next_wake_ms;
    } else {
      spdlog::error("msg=\"promote failed\" error=\"{}\"", promoted.error().message);
      wake_at = now + kErrorBackoffMs;
    }
    if (now >= next_purge_ms) {
      on_purge_();
      next_purge_ms = now + purge_interval_ms_;
    }
    wake_at = std::min({wake_at, next_purge_ms, now + kMaxSleepMs});

    std::unique_lock lock(mu_);
    if (stopping_) return;
    if (kicked_) {
      kicked_ = false;
      continue;
    }
    planned_wake_ms_ = wake_at;
    int64_t sleep_ms = wake_at - clock_.NowMs();
    if (sleep_ms > 0) {
      wake_.wait_for(lock, std::chrono::milliseconds(sleep_ms),
                     [&] { return stopping_ || kicked_; });
    }
    if (stopping_) return;
    kicked_ = false;
    planned_wake_ms_ = kAwake;  // awake: any kick means "look again"
  }
}

}  // namespace delayq::engine
