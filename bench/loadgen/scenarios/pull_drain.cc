#include "pull_drain.h"

#include <algorithm>
#include <boost/asio.hpp>
#include <stdexcept>
#include <vector>

#include "../http_connection.h"
#include "../v1.h"

namespace loadgen {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

awaitable<void> Preloader(PullState& state) {
  HttpConnection connection(co_await asio::this_coro::executor, state.endpoint);
  const std::string path = "/v1/topics/" + state.topic + "/tasks:batch";
  while (state.next_task < state.tasks) {
    int64_t first = state.next_task;
    int64_t count = std::min(kMaxBatch, state.tasks - first);
    state.next_task += count;
    // Untimed: no time field, due now. Timed: each item's own at_ms.
    std::string body = R"({"tasks":[)";
    for (int64_t i = 0; i < count; ++i) {
      if (i > 0) body += ',';
      if (state.timed) {
        body += R"({"payload":"p","at_ms":)" + std::to_string(state.DueMsOf(first + i)) + "}";
      } else {
        body += R"({"payload":"p"})";
      }
    }
    body += "]}";
    try {
      HttpResponse response = co_await connection.RoundTrip(PostRequest(path, state.addr, body));
      std::vector<uint64_t> ids = ParseIdArray(response.body);
      if (response.status != 201 || ids.size() != static_cast<size_t>(count)) {
        throw std::runtime_error("HTTP " + std::to_string(response.status) + ": " +
                                 response.body.substr(0, 300));
      }
      for (uint64_t id : ids) {
        if (!state.ledger.Add(id)) {
          throw std::runtime_error("batch answered an id twice: " + std::to_string(id));
        }
      }
      if (state.timed && WallClockMicros() / 1000 >= state.DueMsOf(first)) {
        state.added_after_due += static_cast<uint64_t>(count);
      }
    } catch (const std::exception& e) {
      state.preload_errors.Note(Describe(e));
    }
  }
}

// One POST /v1/tasks:ack for all the tasks of a pull; each item counts as acked or not.
awaitable<void> AckBatch(PullState& state, HttpConnection& connection,
                         const std::vector<PulledTask>& tasks) {
  try {
    auto started = SteadyClock::now();
    HttpResponse response = co_await connection.RoundTrip(BatchAckRequest(state.addr, tasks));
    state.last_ack_at = SteadyClock::now();
    state.ack_latency.Record(MicrosSince(started));
    size_t done = response.status == 200 ? CountBatchAcked(response.body) : 0;
    state.acked += done;
    if (done != tasks.size()) {
      state.ack_errors.Note("batch ack: HTTP " + std::to_string(response.status) + ": " +
                                response.body.substr(0, 300),
                            tasks.size() - done);
    }
  } catch (const std::exception& e) {
    state.ack_errors.Note(Describe(e), tasks.size());
  }
}

// A request per task, all of one pull pipelined in one write on the consumer's connection.
awaitable<void> AckPipelined(PullState& state, HttpConnection& connection,
                             const std::vector<PulledTask>& tasks) {
  std::string acks;
  for (const PulledTask& task : tasks) acks += AckRequest(state.addr, task);
  try {
    auto started = SteadyClock::now();
    std::vector<HttpResponse> responses = co_await connection.Pipeline(acks, tasks.size());
    state.last_ack_at = SteadyClock::now();
    state.ack_latency.Record(MicrosSince(started));
    for (size_t i = 0; i < responses.size(); ++i) {
      if (responses[i].status == 200) {
        ++state.acked;
      } else {
        state.ack_errors.Note("ack of " + std::to_string(tasks[i].id) + ": HTTP " +
                              std::to_string(responses[i].status) + ": " +
                              responses[i].body.substr(0, 300));
      }
    }
  } catch (const std::exception& e) {
    state.ack_errors.Note(Describe(e), tasks.size());
  }
}

// Pulls up to `max`, then acks every task it got with its lease; the next pull is sent once
// the acks are answered.
awaitable<void> Consumer(PullState& state) {
  auto executor = co_await asio::this_coro::executor;
  HttpConnection connection(executor, state.endpoint);
  asio::steady_timer backoff(executor);
  const std::string request = PostRequest(
      "/v1/topics/" + state.topic + "/pull", state.addr,
      "{\"max\":" + std::to_string(state.max) + ",\"wait_ms\":" + std::to_string(state.wait_ms) +
          ",\"lease_ms\":" + std::to_string(state.lease_ms) + "}");
  while (!state.ledger.AllReceived() && SteadyClock::now() < state.give_up_at) {
    std::vector<PulledTask> tasks;
    int64_t received_us = 0;
    bool failed = false;
    try {
      auto started = SteadyClock::now();
      HttpResponse response = co_await connection.RoundTrip(request);
      received_us = WallClockMicros();
      state.pull_latency.Record(MicrosSince(started));
      ++state.pulls;
      auto parsed = response.status == 200 ? ParsePulledTasks(response.body) : std::nullopt;
      if (!parsed) {
        throw std::runtime_error("HTTP " + std::to_string(response.status) + ": " +
                                 response.body.substr(0, 300));
      }
      tasks = std::move(*parsed);
    } catch (const std::exception& e) {
      state.pull_errors.Note(Describe(e));
      failed = true;
    }
    if (failed) {
      // As in a closed loop: a refused connection must not spin.
      backoff.expires_after(std::chrono::milliseconds(10));
      co_await backoff.async_wait(use_awaitable);
      continue;
    }
    if (tasks.empty()) {
      ++state.empty_pulls;
      continue;
    }
    for (const PulledTask& task : tasks) {
      if (task.attempt != 1) ++state.redelivered;
      state.ledger.Receive(task.id, received_us, task.due_at_ms * 1000);
    }
    if (state.batch_ack) {
      co_await AckBatch(state, connection, tasks);
    } else {
      co_await AckPipelined(state, connection, tasks);
    }
  }
}

}  // namespace

void PullState::Configure(const Options& options, int64_t default_tasks, int64_t default_wait_ms,
                          const std::string& topic_prefix) {
  // single (a request per task, pipelined) or batch (one tasks:ack per pull).
  std::string mode = options.String("ack-mode", "single");
  if (mode != "single" && mode != "batch") {
    throw std::invalid_argument("--ack-mode must be single or batch, not " + mode);
  }
  batch_ack = mode == "batch";
  addr = options.String("addr");
  endpoint = ParseEndpoint(addr);
  tasks = options.Integer("tasks", default_tasks);
  max = options.Integer("max", 100);
  wait_ms = options.Integer("wait-ms", default_wait_ms);
  lease_ms = options.Integer("lease-ms", 60'000);
  topic = options.String("topic", topic_prefix + std::to_string(WallClockMicros()));
  if (tasks < 1 || max < 1 || max > kMaxBatch) {
    throw std::invalid_argument("--tasks must be >= 1, --max 1 to 1000");
  }
}

bool PullState::Valid() const {
  return preload_errors.count == 0 && ledger.added() == static_cast<uint64_t>(tasks) &&
         ledger.missing() == 0 && ledger.duplicates() == 0 && ledger.unexpected() == 0 &&
         redelivered == 0 && pull_errors.count == 0 && ack_errors.count == 0 &&
         acked == ledger.added();
}

double Preload(PullState& state, int64_t connections) {
  if (connections < 1) throw std::invalid_argument("--preload-connections must be >= 1");
  asio::io_context io(1);
  auto started = SteadyClock::now();
  for (int64_t c = 0; c < connections; ++c) asio::co_spawn(io, Preloader(state), asio::detached);
  io.run();
  return SecondsBetween(started, SteadyClock::now());
}

void Drain(PullState& state, int64_t consumers) {
  if (consumers < 1) throw std::invalid_argument("--consumers must be >= 1");
  asio::io_context io(1);
  for (int64_t c = 0; c < consumers; ++c) asio::co_spawn(io, Consumer(state), asio::detached);
  io.run();
}

void WriteDrain(const PullState& state, Report& report) {
  state.ledger.Write(report);
  report.Set("redelivered", state.redelivered)
      .Set("acked", state.acked)
      .Errors("ack_errors", "ack errors", state.ack_errors)
      .Set("pulls", state.pulls)
      .Set("empty_pulls", state.empty_pulls)
      .Errors("pull_errors", "pull errors", state.pull_errors);
}

}  // namespace loadgen
