// Seed firing at 1 s resolution: tasks due on `spread_s` distinct seconds, added over 32
// connections, then taken by `consumers` seed pull loops; lateness = receive time - due second.

#include <algorithm>
#include <boost/asio.hpp>
#include <stdexcept>

#include "../clock.h"
#include "../http_connection.h"
#include "../json_scan.h"
#include "../ledger.h"
#include "../report.h"
#include "../scenarios.h"

namespace loadgen {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

// All of it runs on one event-loop thread, so the shared state below needs no locks.
struct FireState {
  tcp::endpoint endpoint;
  std::string addr;
  std::string topic;
  int64_t tasks = 0;
  int64_t first_due_s = 0;
  int64_t spread_s = 0;

  int64_t next_task = 0;
  ErrorTally add_errors;
  uint64_t added_after_due = 0;  // acknowledged only after their due second had begun
  Ledger ledger;

  uint64_t pulls = 0;
  uint64_t empty_pulls = 0;
  ErrorTally pull_errors;
  SteadyClock::time_point give_up_at;

  // Task i is due at second first_due_s + floor(i * spread / tasks): uniform over the spread,
  // and in the order tasks are added, so the earliest are stored first.
  int64_t DueSecondOf(int64_t task) const { return first_due_s + task * spread_s / tasks; }
};

awaitable<void> FireAdder(FireState& state) {
  HttpConnection connection(co_await asio::this_coro::executor, state.endpoint);
  while (state.next_task < state.tasks) {
    int64_t due_s = state.DueSecondOf(state.next_task++);
    // The content is the due time in ms, so a consumer measures lateness with no lookup.
    std::string body = "{\"topic\":\"" + state.topic +
                       "\",\"timing_moment\":" + std::to_string(due_s) + ",\"content\":\"" +
                       std::to_string(due_s * 1000) + "\"}";
    std::string request = PostRequest("/delay/task/add", state.addr, body);
    try {
      HttpResponse response = co_await connection.RoundTrip(request);
      auto id = TaskIdField(response.body);
      if (!IsSuccess(response) || !id || *id == 0) {
        throw std::runtime_error("HTTP " + std::to_string(response.status) + ": " + response.body);
      }
      state.ledger.Add(*id);
      if (WallClockMicros() >= due_s * 1'000'000) ++state.added_after_due;
    } catch (const std::exception& e) {
      state.add_errors.Note(Describe(e));
    }
  }
}

awaitable<void> FireConsumer(FireState& state) {
  HttpConnection connection(co_await asio::this_coro::executor, state.endpoint);
  const std::string request =
      PostRequest("/delay/task/pull", state.addr, "{\"topic\":\"" + state.topic + "\"}");
  // Tight loop, as a seed consumer polling for work would: an empty answer is asked again
  // at once, which is also what makes the measured lateness the server's, not ours.
  while (!state.ledger.AllReceived() && SteadyClock::now() < state.give_up_at) {
    try {
      HttpResponse response = co_await connection.RoundTrip(request);
      int64_t received_us = WallClockMicros();
      ++state.pulls;
      auto id = TaskIdField(response.body);
      if (!IsSuccess(response) || !id) {
        throw std::runtime_error("HTTP " + std::to_string(response.status) + ": " + response.body);
      }
      if (*id == 0) {
        ++state.empty_pulls;
        continue;
      }
      auto due_ms = IntegerField(response.body, "content");
      if (!due_ms) throw std::runtime_error("content is not a due time: " + response.body);
      state.ledger.Receive(*id, received_us, *due_ms * 1000);
    } catch (const std::exception& e) {
      state.pull_errors.Note(Describe(e));
    }
  }
}

}  // namespace

int RunFire(const Options& options) {
  FireState state;
  state.addr = options.String("addr");
  state.endpoint = ParseEndpoint(state.addr);
  state.tasks = options.Integer("tasks", 50'000);
  state.spread_s = options.Integer("spread-s", 5);
  int64_t consumers = options.Integer("consumers", 4);
  int64_t add_connections = options.Integer("add-connections", 32);
  // At least 3 s, so the add phase can finish before the first task is due; a slower server
  // shows up as added_after_due > 0 rather than as silently inflated lateness.
  int64_t lead_s = std::max<int64_t>(3, options.Integer("lead-s", 3));
  int64_t timeout_s = options.Integer("timeout-s", 60);
  state.topic = options.String("topic", "bench_fire_" + std::to_string(WallClockMicros()));
  if (state.tasks < 1 || state.spread_s < 1 || consumers < 1 || add_connections < 1) {
    throw std::invalid_argument("--tasks, --spread-s, --consumers must be >= 1");
  }
  // Round up to a whole second so "at least lead_s from now" holds for the first task too.
  state.first_due_s = (WallClockMicros() + 999'999) / 1'000'000 + lead_s;

  asio::io_context io(1);
  auto add_started = SteadyClock::now();
  for (int64_t c = 0; c < add_connections; ++c) {
    asio::co_spawn(io, FireAdder(state), asio::detached);
  }
  io.run();
  double add_elapsed_s = SecondsBetween(add_started, SteadyClock::now());
  int64_t add_finished_us = WallClockMicros();

  int64_t last_due_us = state.DueSecondOf(state.tasks - 1) * 1'000'000;
  state.give_up_at =
      SteadyClock::now() +
      std::chrono::microseconds(std::max<int64_t>(0, last_due_us - add_finished_us)) +
      std::chrono::seconds(timeout_s);
  io.restart();
  for (int64_t c = 0; c < consumers; ++c) {
    asio::co_spawn(io, FireConsumer(state), asio::detached);
  }
  io.run();

  const Ledger& ledger = state.ledger;
  int64_t distinct_seconds = std::min(state.spread_s, state.tasks);
  Report report("fire");
  report.Set("tasks", state.tasks)
      .Set("spread_s", state.spread_s)
      .Set("consumers", consumers)
      .Set("add_connections", add_connections)
      .Set("add_rps", static_cast<double>(ledger.added()) / add_elapsed_s, 1)
      .Errors("add_errors", "add errors", state.add_errors)
      .Set("added_after_due", state.added_after_due)
      .Set("first_due_after_add_phase_ms",
           (state.first_due_s * 1'000'000 - add_finished_us) / 1000);
  ledger.Write(report);
  ledger.WriteLateness(report);
  report.Set("pulls", state.pulls)
      .Set("empty_pulls", state.empty_pulls)
      .Errors("pull_errors", "pull errors", state.pull_errors)
      .Set("distinct_due_seconds", distinct_seconds)
      .Set("note", "timing_moment has 1 s resolution, so the tasks fall on " +
                       std::to_string(distinct_seconds) + " distinct seconds (~" +
                       std::to_string(state.tasks / distinct_seconds) +
                       " due at once each); lateness = receive wall time - due second");
  return report
      .Require(state.add_errors.count == 0 &&
               ledger.added() == static_cast<uint64_t>(state.tasks) && ledger.Clean())
      .Print();
}

}  // namespace loadgen
