#include "engine/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace delayq::engine {

// After a storage error, try again this much later rather than spinning.
constexpr int64_t kErrorBackoffMs = 100;
// Sleep at most this long even with nothing scheduled, so that a stepped wall clock is
// noticed within a second.
constexpr int64_t kMaxSleepMs = 1000;

Scheduler::Scheduler(store::Store& store, const Clock& clock, SchedulerListener& listener)
    : store_(store), clock_(clock), listener_(listener) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  thread_.Start([this] { Run(); });
}

void Scheduler::Stop() { thread_.Stop(); }

void Scheduler::Kick(int64_t at_ms) {
  {
    std::lock_guard lock(thread_.mutex());
    if (at_ms >= planned_wake_ms_) return;
    kicked_ = true;
    thread_.condition()
        .notify_one();  // under the lock, as in StoreWorker: the kicker is done with us after it
  }
}

void Scheduler::Run() {
  for (;;) {
    int64_t now = clock_.NowMs();
    int64_t wake_at;
    auto promoted = store_.Promote(now);
    if (promoted) {
      if (failures_ > 0) {
        spdlog::info("msg=\"promote works again\" failed_rounds={}", failures_);
        failures_ = 0;
      }
      listener_.OnPromoted(*promoted, now);
      wake_at = promoted->next_wake_ms;
    } else {
      // Logged when it starts failing and then every 100th round (~10 s), not 10 times a
      // second for as long as the store is away.
      if (failures_++ % 100 == 0) {
        spdlog::error("msg=\"promote failed\" error=\"{}\" failed_rounds={}",
                      promoted.error().message, failures_);
      }
      wake_at = now + kErrorBackoffMs;
    }
    wake_at = std::min({wake_at, listener_.OnTick(now), now + kMaxSleepMs});

    std::unique_lock lock(thread_.mutex());
    if (thread_.stopping()) return;
    if (kicked_) {
      kicked_ = false;
      continue;
    }
    planned_wake_ms_ = wake_at;
    int64_t sleep_ms = wake_at - clock_.NowMs();
    if (sleep_ms > 0 &&
        !thread_.WaitFor(lock, std::chrono::milliseconds(sleep_ms), [&] { return kicked_; })) {
      return;
    }
    if (thread_.stopping()) return;
    kicked_ = false;
    planned_wake_ms_ = kAwake;
  }
}

}  // namespace delayq::engine
