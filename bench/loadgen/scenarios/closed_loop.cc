// Closed-loop throughput: `connections` connections each with one request in flight for a
// fixed time (seed adds, nginx `GET /`, v1 batch adds).

#include <algorithm>
#include <boost/asio.hpp>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "../clock.h"
#include "../http_connection.h"
#include "../json_scan.h"
#include "../report.h"
#include "../scenarios.h"
#include "../v1.h"

namespace loadgen {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

struct RunStats {
  uint64_t requests = 0;
  ErrorTally errors;
  LatencyHistogram latency;
};

// Builds the request a connection sends next; called once per request so adds can carry the
// current time.
using RequestFactory = std::function<std::string()>;

// Whether a response counts as a completed request; any other response is an error.
using ResponseCheck = std::function<bool(const HttpResponse&)>;

awaitable<void> ClosedLoopWorker(tcp::endpoint endpoint, RequestFactory make_request,
                                 const ResponseCheck& accept, SteadyClock::time_point deadline,
                                 RunStats& stats) {
  auto executor = co_await asio::this_coro::executor;
  HttpConnection connection(executor, endpoint);
  asio::steady_timer backoff(executor);
  while (SteadyClock::now() < deadline) {
    std::string request = make_request();
    auto started = SteadyClock::now();
    bool failed = false;
    try {
      HttpResponse response = co_await connection.RoundTrip(request);
      int64_t micros = MicrosSince(started);
      if (!accept(response)) {
        stats.errors.Note("HTTP " + std::to_string(response.status) + ": " + response.body);
      } else {
        ++stats.requests;
        stats.latency.Record(micros);
      }
    } catch (const std::exception& e) {
      stats.errors.Note(Describe(e));
      failed = true;
    }
    if (failed) {
      // A refused connection fails instantly; without a pause the loop would spin the CPU
      // the server needs and count millions of errors.
      backoff.expires_after(std::chrono::milliseconds(10));
      co_await backoff.async_wait(use_awaitable);
    }
  }
}

// Runs `connections` closed-loop workers spread over `threads` event loops, each loop with its
// own stats (no sharing on the hot path), and prints the merged result. With
// `tasks_per_request` > 0 (batch adds) it also reports the task rate it stands for.
int RunClosedLoop(std::string_view scenario, const Options& options, const ResponseCheck& accept,
                  const std::function<RequestFactory()>& factory_per_connection,
                  int64_t tasks_per_request = 0) {
  std::vector<tcp::endpoint> endpoints = ParseEndpoints(options.String("addr"));
  int64_t connections = options.Integer("connections");
  int64_t threads = options.Integer("threads", 1);
  int64_t duration_s = options.Integer("duration-s");
  if (connections < 1 || threads < 1 || duration_s < 1) {
    throw std::invalid_argument("--connections, --threads and --duration-s must be >= 1");
  }
  threads = std::min(threads, connections);
  std::vector<RunStats> stats_per_thread(static_cast<size_t>(threads));
  std::vector<std::thread> workers;
  auto started = SteadyClock::now();
  auto deadline = started + std::chrono::seconds(duration_s);
  size_t next_endpoint = 0;  // connection k goes to endpoints[k % size]
  for (int64_t t = 0; t < threads; ++t) {
    int64_t mine = connections / threads + (t < connections % threads ? 1 : 0);
    std::vector<std::pair<tcp::endpoint, RequestFactory>> factories;
    for (int64_t c = 0; c < mine; ++c) {
      factories.emplace_back(endpoints[next_endpoint++ % endpoints.size()],
                             factory_per_connection());
    }
    workers.emplace_back([&, t, factories = std::move(factories)] {
      asio::io_context io(1);
      for (const auto& [endpoint, make_request] : factories) {
        asio::co_spawn(io,
                       ClosedLoopWorker(endpoint, make_request, accept, deadline,
                                        stats_per_thread[static_cast<size_t>(t)]),
                       asio::detached);
      }
      io.run();
    });
  }
  for (auto& worker : workers) worker.join();
  double elapsed_s = SecondsBetween(started, SteadyClock::now());

  RunStats total;
  for (const auto& stats : stats_per_thread) {
    total.requests += stats.requests;
    total.errors.Merge(stats.errors);
    total.latency.Merge(stats.latency);
  }
  double rps = static_cast<double>(total.requests) / elapsed_s;
  Report report(scenario);
  report.Set("connections", connections)
      .Set("requests", total.requests)
      .Errors("errors", "errors", total.errors)
      .Set("rps", rps, 1)
      .Latency("", total.latency);
  if (tasks_per_request > 0) {
    report.Set("batch", tasks_per_request)
        .Set("tasks_per_s", rps * static_cast<double>(tasks_per_request), 1);
  }
  return report.Require(total.requests > 0).Print();
}

}  // namespace

int RunAdd(const Options& options) {
  std::string addr = FirstAddr(options.String("addr"));
  std::string topic = options.String("topic", "bench_add");
  // Far enough ahead that nothing fires during the run (firing would compete for the CPU
  // and the store) and beyond the server's in-memory near window, like most real tasks.
  int64_t due_offset_s = options.Integer("due-offset-s", 3600);
  auto factory = [addr, topic, due_offset_s]() -> RequestFactory {
    return [addr, topic, due_offset_s] {
      int64_t due_s = WallClockMicros() / 1'000'000 + due_offset_s;
      // The seed's own example content: a small JSON document as a string.
      std::string body = "{\"topic\":\"" + topic + "\",\"timing_moment\":" + std::to_string(due_s) +
                         R"(,"content":"{\"uid\":\"111111\"}"})";
      return PostRequest("/delay/task/add", addr, body);
    };
  };
  return RunClosedLoop("add", options, IsSuccess, factory);
}

int RunHttp(const Options& options) {
  std::string addr = FirstAddr(options.String("addr"));
  std::string request =
      "GET " + options.String("path", "/") + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n";
  auto factory = [request]() -> RequestFactory { return [request] { return request; }; };
  return RunClosedLoop(
      "http", options, [](const HttpResponse& response) { return response.status == 200; },
      factory);
}

// v1 batch adds: every request adds `batch` tasks to one topic in one atomic write. Far ahead,
// like the seed adds, so nothing fires during the run. The body is the same for every request
// (delay_ms, not a wall-clock time), so building it costs nothing on the hot path.
int RunBatch(const Options& options) {
  std::string addr = FirstAddr(options.String("addr"));
  std::string topic = options.String("topic", "bench_batch");
  int64_t batch = options.Integer("batch", 100);
  int64_t delay_ms = options.Integer("delay-ms", 3'600'000);
  if (batch < 1 || batch > kMaxBatch) throw std::invalid_argument("--batch must be 1 to 1000");
  std::string item =
      R"({"payload":"{\"uid\":\"111111\"}","delay_ms":)" + std::to_string(delay_ms) + "}";
  std::string body = R"({"tasks":[)";
  for (int64_t i = 0; i < batch; ++i) {
    if (i > 0) body += ',';
    body += item;
  }
  body += "]}";
  std::string request = PostRequest("/v1/topics/" + topic + "/tasks:batch", addr, body);
  auto factory = [request]() -> RequestFactory { return [request] { return request; }; };
  // 201 with one id per task: a batch is all or nothing, so anything else stored none of them.
  auto accept = [batch](const HttpResponse& response) {
    return response.status == 201 &&
           ParseIdArray(response.body).size() == static_cast<size_t>(batch);
  };
  return RunClosedLoop("batch", options, accept, factory, batch);
}

}  // namespace loadgen
