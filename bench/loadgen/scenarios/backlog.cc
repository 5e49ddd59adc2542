// Backlog: many v1 batch adds due hours ahead, as fast as the server takes them.

#include <algorithm>
#include <boost/asio.hpp>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "../clock.h"
#include "../http_connection.h"
#include "../report.h"
#include "../scenarios.h"
#include "../v1.h"

namespace loadgen {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

struct BacklogState {
  tcp::endpoint endpoint;
  std::string addr;
  int64_t tasks = 0;
  int64_t batch = 1000;
  int64_t next_task = 0;
  uint64_t added = 0;
  ErrorTally errors;
  int64_t next_progress = 0;
  std::vector<std::string> requests;  // full batches, cycled
  std::string path;
  std::string tail_request;  // the last, partial batch (if any)
  LatencyHistogram latency;
  SteadyClock::time_point started;
};

awaitable<void> BacklogAdder(BacklogState& state, size_t first_body) {
  auto executor = co_await asio::this_coro::executor;
  HttpConnection connection(executor, state.endpoint);
  asio::steady_timer backoff(executor);
  size_t body = first_body;
  while (state.next_task < state.tasks) {
    int64_t count = std::min(state.batch, state.tasks - state.next_task);
    state.next_task += count;
    const std::string& request =
        count == state.batch ? state.requests[body++ % state.requests.size()] : state.tail_request;
    auto started = SteadyClock::now();
    try {
      HttpResponse response = co_await connection.RoundTrip(request);
      if (response.status != 201 ||
          ParseIdArray(response.body).size() != static_cast<size_t>(count)) {
        throw std::runtime_error("HTTP " + std::to_string(response.status) + ": " +
                                 response.body.substr(0, 300));
      }
      state.latency.Record(MicrosSince(started));
      state.added += static_cast<uint64_t>(count);
      if (static_cast<int64_t>(state.added) >= state.next_progress) {
        double s = SecondsBetween(state.started, SteadyClock::now());
        std::fprintf(stderr, "loadgen backlog-add: %llu of %lld tasks added, %.0f tasks/s\n",
                     static_cast<unsigned long long>(state.added),
                     static_cast<long long>(state.tasks), static_cast<double>(state.added) / s);
        state.next_progress += std::max<int64_t>(state.tasks / 10, 1);
      }
    } catch (const std::exception& e) {
      state.errors.Note(Describe(e));
      // Not retried: the run is invalid once a batch failed; stop this connection.
      co_return;
    }
  }
}

}  // namespace

// Adds `tasks` tasks in v1 batches, each due at now + min_delay_ms + a pseudo-random part of
// spread_ms (so the due index is written out of order, as a real backlog is). The bodies use
// delay_ms and are built once, so the client costs next to nothing per task.
int RunBacklogAdd(const Options& options) {
  BacklogState state;
  state.addr = options.String("addr");
  state.endpoint = ParseEndpoint(state.addr);
  state.tasks = options.Integer("tasks");
  state.batch = options.Integer("batch", 1000);
  int64_t connections = options.Integer("connections", 64);
  int64_t min_delay_ms = options.Integer("min-delay-ms", 3'600'000);
  int64_t spread_ms = options.Integer("spread-ms", 4 * 3'600'000);
  std::string topic = options.String("topic", "bench_backlog");
  if (state.tasks < 1 || state.batch < 1 || state.batch > kMaxBatch || connections < 1 ||
      min_delay_ms < 0 || spread_ms < 1) {
    throw std::invalid_argument("--tasks, --connections >= 1, --batch 1 to 1000, --spread-ms >= 1");
  }
  state.path = "/v1/topics/" + topic + "/tasks:batch";
  uint64_t lcg = 0x9E3779B97F4A7C15ull;
  auto make_body = [&](int64_t count) {
    std::string body = R"({"tasks":[)";
    for (int64_t i = 0; i < count; ++i) {
      lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
      int64_t delay =
          min_delay_ms + static_cast<int64_t>((lcg >> 17) % static_cast<uint64_t>(spread_ms));
      if (i > 0) body += ',';
      body += R"({"payload":"{\"uid\":\"111111\"}","delay_ms":)" + std::to_string(delay) + "}";
    }
    body += "]}";
    return PostRequest(state.path, state.addr, body);
  };
  for (int i = 0; i < 64; ++i) state.requests.push_back(make_body(state.batch));
  if (state.tasks % state.batch != 0) state.tail_request = make_body(state.tasks % state.batch);

  asio::io_context io(1);
  state.started = SteadyClock::now();
  state.next_progress = std::max<int64_t>(state.tasks / 10, 1);
  for (int64_t c = 0; c < connections; ++c) {
    asio::co_spawn(io, BacklogAdder(state, static_cast<size_t>(c)), asio::detached);
  }
  io.run();
  double elapsed_s = SecondsBetween(state.started, SteadyClock::now());
  Report report("backlog-add");
  report.Set("tasks", state.tasks)
      .Set("batch", state.batch)
      .Set("connections", connections)
      .Set("added", state.added)
      .Errors("errors", "failed batches", state.errors)
      .Set("elapsed_s", elapsed_s)
      .Set("tasks_per_s", static_cast<double>(state.added) / elapsed_s, 1)
      .Latency("", state.latency);
  return report
      .Require(state.errors.count == 0 && state.added == static_cast<uint64_t>(state.tasks))
      .Print();
}

}  // namespace loadgen
