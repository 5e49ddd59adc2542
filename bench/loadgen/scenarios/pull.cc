// v1 pull + ack: `pull` drains tasks due now (throughput); `fire-ms` adds tasks due at
// millisecond times over a spread and measures how late each is handed out (lateness).

#include <algorithm>
#include <stdexcept>

#include "../report.h"
#include "../scenarios.h"
#include "pull_drain.h"

namespace loadgen {

// Preloads `tasks` tasks due now, then drains them with pull + ack.
int RunPull(const Options& options) {
  PullState state;
  state.Configure(options, 100'000, 500, "bench_pull_");
  int64_t consumers = options.Integer("consumers", 4);
  int64_t timeout_s = options.Integer("timeout-s", 60);
  double preload_s = Preload(state, options.Integer("preload-connections", 4));

  state.started = SteadyClock::now();
  state.last_ack_at = state.started;
  state.give_up_at = state.started + std::chrono::seconds(timeout_s);
  Drain(state, consumers);
  // Up to the last ack: consumers that found nothing left wait out their wait_ms afterwards.
  double elapsed_s = SecondsBetween(state.started, state.last_ack_at);

  Report report("pull");
  report.Set("ack_mode", state.batch_ack ? "batch" : "single")
      .Set("tasks", state.tasks)
      .Set("consumers", consumers)
      .Set("max", state.max)
      .Set("wait_ms", state.wait_ms)
      .Set("lease_ms", state.lease_ms)
      .Set("preload_tasks_per_s", static_cast<double>(state.ledger.added()) / preload_s, 1)
      .Errors("preload_errors", "preload errors", state.preload_errors);
  WriteDrain(state, report);
  report.Set("elapsed_s", elapsed_s)
      .Set("tasks_per_s", elapsed_s > 0 ? static_cast<double>(state.acked) / elapsed_s : 0.0, 1)
      .Latency("pull_", state.pull_latency, false)
      .Latency("acks_", state.ack_latency, false)
      .Set("note",
           "tasks_per_s = tasks pulled and acked / time from the first pull to the last ack; "
           "acks_* = the acks of one pull (one batch request, or requests pipelined in one write "
           "on the consumer's connection)");
  return report.Require(state.Valid()).Print();
}

// `tasks` tasks due uniformly over `spread_ms` (each with its own at_ms), the first due at a
// whole second at least `lead_ms` after the adds start; added in batches of 1,000 before the
// first is due, then drained by long-polling pull consumers acking every task. Lateness = wall
// time the pull answer was read - due_at_ms, once per task.
int RunFireMs(const Options& options) {
  PullState state;
  state.Configure(options, 50'000, 1000, "bench_firems_");
  state.timed = true;
  state.spread_ms = options.Integer("spread-ms", 5000);
  int64_t lead_ms = options.Integer("lead-ms", 5000);
  int64_t consumers = options.Integer("consumers", 4);
  int64_t timeout_s = options.Integer("timeout-s", 60);
  if (state.spread_ms < 0 || lead_ms < 0) {
    throw std::invalid_argument("--spread-ms, --lead-ms must be >= 0");
  }
  int64_t adds_started_ms = WallClockMicros() / 1000;
  // A whole second, so that with --spread-ms 1000 every task is due within one wall-clock second.
  state.first_due_ms = (adds_started_ms + lead_ms + 999) / 1000 * 1000;
  double preload_s = Preload(state, options.Integer("preload-connections", 4));
  int64_t preload_finished_ms = WallClockMicros() / 1000;

  int64_t last_due_ms = state.DueMsOf(state.tasks - 1);
  state.started = SteadyClock::now();
  state.last_ack_at = state.started;
  state.give_up_at =
      state.started +
      std::chrono::milliseconds(std::max<int64_t>(0, last_due_ms - preload_finished_ms)) +
      std::chrono::seconds(timeout_s);
  Drain(state, consumers);

  const Ledger& ledger = state.ledger;
  Report report("fire-ms");
  report.Set("ack_mode", state.batch_ack ? "batch" : "single")
      .Set("tasks", state.tasks)
      .Set("spread_ms", state.spread_ms)
      .Set("lead_ms", lead_ms)
      .Set("consumers", consumers)
      .Set("max", state.max)
      .Set("wait_ms", state.wait_ms)
      .Set("add_tasks_per_s", preload_s > 0 ? static_cast<double>(ledger.added()) / preload_s : 0.0,
           1)
      .Set("add_s", preload_s)
      .Errors("add_errors", "add errors", state.preload_errors)
      .Set("added_after_due", state.added_after_due)
      .Set("first_due_after_adds_ms", state.first_due_ms - preload_finished_ms);
  WriteDrain(state, report);
  ledger.WriteLateness(report);
  report
      .Set("last_received_after_last_due_ms",
           ledger.received() > 0
               ? static_cast<double>(ledger.last_received_us() - last_due_ms * 1000) / 1000.0
               : 0.0)
      .Set("note", "lateness = wall time a pull answer was read - due_at_ms of each task in it");
  return report.Require(state.Valid() && ledger.early() == 0).Print();
}

}  // namespace loadgen
