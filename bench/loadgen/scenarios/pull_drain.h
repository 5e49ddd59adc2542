#pragma once

// What the pull and fire-ms scenarios share: a preload of v1 tasks in batches, then consumers
// that pull under a lease and ack every task they got.

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>

#include "../clock.h"
#include "../histogram.h"
#include "../ledger.h"
#include "../options.h"
#include "../report.h"

namespace loadgen {

// All of it runs on one event-loop thread, so the shared state needs no locks.
struct PullState {
  boost::asio::ip::tcp::endpoint endpoint;
  std::string addr;
  std::string topic;
  int64_t tasks = 0;
  int64_t max = 100;
  int64_t wait_ms = 500;
  int64_t lease_ms = 60'000;
  // Acks: one request per task, pipelined ("single"), or one POST /v1/tasks:ack per pull
  // ("batch").
  bool batch_ack = false;

  // Preload. With `timed`, task i is due at first_due_ms + floor(i * spread_ms / tasks) (an
  // `at_ms` per item, the fire-ms scenario); otherwise every task is due now.
  bool timed = false;
  int64_t first_due_ms = 0;
  int64_t spread_ms = 0;
  int64_t next_task = 0;
  ErrorTally preload_errors;
  uint64_t added_after_due = 0;  // acknowledged only after the first due time of their batch
  Ledger ledger;

  // Pull + ack.
  uint64_t redelivered = 0;  // attempt > 1: a lease ran out or a delivery was repeated
  uint64_t acked = 0;
  ErrorTally ack_errors;
  uint64_t pulls = 0;
  uint64_t empty_pulls = 0;
  ErrorTally pull_errors;
  LatencyHistogram pull_latency;  // one pull request
  LatencyHistogram ack_latency;   // the acks of one pull, first byte out to last in
  SteadyClock::time_point started;
  SteadyClock::time_point last_ack_at;
  SteadyClock::time_point give_up_at;

  int64_t DueMsOf(int64_t task) const { return first_due_ms + task * spread_ms / tasks; }

  // The options both scenarios take (defaults differ: wait_ms).
  void Configure(const Options& options, int64_t default_tasks, int64_t default_wait_ms,
                 const std::string& topic_prefix);

  // Every error or loss that makes the run invalid: none of them.
  bool Valid() const;
};

// Preloads state.tasks with `connections` connections; returns the seconds it took.
double Preload(PullState& state, int64_t connections);

// Drains with `consumers` consumers until every task was received or give_up_at.
void Drain(PullState& state, int64_t consumers);

// The drain's counts and the acks' mode as report fields.
void WriteDrain(const PullState& state, Report& report);

}  // namespace loadgen
