// The beanstalkd reference: closed-loop `put` with a delay, then every job reserved and deleted
// (its plain-text protocol, one command in flight per connection).

#include <algorithm>
#include <boost/asio.hpp>
#include <cstdlib>
#include <stdexcept>
#include <thread>

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
using asio::use_awaitable;
using asio::ip::tcp;

// One beanstalkd connection (plain-text protocol, one command in flight).
class BeanstalkConnection {
 public:
  BeanstalkConnection(asio::any_io_executor executor, tcp::endpoint endpoint)
      : socket_(executor), endpoint_(endpoint) {}

  awaitable<void> Connect() {
    co_await socket_.async_connect(endpoint_, use_awaitable);
    socket_.set_option(tcp::no_delay(true));
  }

  awaitable<std::string> Command(std::string_view command) {
    co_await asio::async_write(socket_, asio::buffer(command), use_awaitable);
    co_return co_await ReadLine();
  }

  awaitable<std::string> ReadLine() {
    size_t n = co_await asio::async_read_until(socket_, asio::dynamic_buffer(buffer_), "\r\n",
                                               use_awaitable);
    std::string line = buffer_.substr(0, n - 2);
    buffer_.erase(0, n);
    co_return line;
  }

  // Reads and drops `bytes` bytes of job body plus its "\r\n".
  awaitable<void> Skip(size_t bytes) {
    size_t needed = bytes + 2;
    if (buffer_.size() < needed) {
      co_await asio::async_read(socket_, asio::dynamic_buffer(buffer_),
                                asio::transfer_exactly(needed - buffer_.size()), use_awaitable);
    }
    buffer_.erase(0, needed);
  }

 private:
  tcp::socket socket_;
  tcp::endpoint endpoint_;
  std::string buffer_;
};

struct BeanstalkState {
  tcp::endpoint endpoint;
  int64_t delay_s = 1;
  int64_t max_jobs = 0;  // 0: no cap
  int64_t put_started = 0;
  SteadyClock::time_point deadline;
  uint64_t puts = 0;
  ErrorTally errors;
  SteadyClock::time_point last_put_at;
  Ledger ledger;  // every put job reserved exactly once
  uint64_t deleted = 0;
  SteadyClock::time_point last_delete_at;
  LatencyHistogram put_latency;
  LatencyHistogram drain_latency;  // reserve + delete of one job
};

// The same 16-byte body as the seed adds' content.
constexpr std::string_view kBeanstalkJob = R"({"uid":"111111"})";

awaitable<void> BeanstalkPutter(BeanstalkState& state) {
  BeanstalkConnection connection(co_await asio::this_coro::executor, state.endpoint);
  try {
    co_await connection.Connect();
  } catch (const std::exception& e) {
    state.errors.Note(Describe(e));
    co_return;
  }
  // put <pri> <delay> <ttr> <bytes>: ttr far above the run, so no job is released again.
  const std::string put = "put 1024 " + std::to_string(state.delay_s) + " 600 " +
                          std::to_string(kBeanstalkJob.size()) + "\r\n" +
                          std::string(kBeanstalkJob) + "\r\n";
  while (SteadyClock::now() < state.deadline &&
         (state.max_jobs == 0 || state.put_started < state.max_jobs)) {
    ++state.put_started;
    auto started = SteadyClock::now();
    try {
      std::string line = co_await connection.Command(put);
      if (!line.starts_with("INSERTED ")) throw std::runtime_error("put: " + line);
      auto id = ParsePositiveDecimal(std::string_view(line).substr(9));
      if (!id || !state.ledger.Add(*id)) {
        throw std::runtime_error("put: bad or repeated id: " + line);
      }
      state.last_put_at = SteadyClock::now();
      state.put_latency.Record(MicrosSince(started));
      ++state.puts;
    } catch (const std::exception& e) {
      state.errors.Note(Describe(e));
      co_return;
    }
  }
}

awaitable<void> BeanstalkDrainer(BeanstalkState& state) {
  BeanstalkConnection connection(co_await asio::this_coro::executor, state.endpoint);
  try {
    co_await connection.Connect();
    for (;;) {
      auto started = SteadyClock::now();
      std::string line = co_await connection.Command("reserve-with-timeout 0\r\n");
      if (line == "TIMED_OUT") co_return;
      // RESERVED <id> <bytes>
      if (!line.starts_with("RESERVED ")) throw std::runtime_error("reserve: " + line);
      std::string_view rest = std::string_view(line).substr(9);
      size_t space = rest.find(' ');
      auto id = ParsePositiveDecimal(rest.substr(0, space));
      if (!id || space == std::string_view::npos) throw std::runtime_error("reserve: " + line);
      co_await connection.Skip(
          std::strtoull(std::string(rest.substr(space + 1)).c_str(), nullptr, 10));
      state.ledger.Receive(*id);
      std::string answer = co_await connection.Command("delete " + std::to_string(*id) + "\r\n");
      if (answer != "DELETED") throw std::runtime_error("delete: " + answer);
      ++state.deleted;
      state.last_delete_at = SteadyClock::now();
      state.drain_latency.Record(MicrosSince(started));
    }
  } catch (const std::exception& e) {
    state.errors.Note(Describe(e));
  }
}

}  // namespace

// Closed-loop `put` with a delay for duration_s (or max_jobs), then, once the last job is ready,
// every job reserved (`reserve-with-timeout 0`) and deleted on the same number of connections.
int RunBeanstalk(const Options& options) {
  BeanstalkState state;
  state.endpoint = ParseEndpoint(options.String("addr"));
  int64_t connections = options.Integer("connections");
  int64_t duration_s = options.Integer("duration-s");
  state.delay_s = options.Integer("delay-s", 1);
  state.max_jobs = options.Integer("max-jobs", 0);
  if (connections < 1 || duration_s < 1 || state.delay_s < 0 || state.max_jobs < 0) {
    throw std::invalid_argument("--connections, --duration-s >= 1, --delay-s, --max-jobs >= 0");
  }
  asio::io_context io(1);
  auto put_started = SteadyClock::now();
  state.deadline = put_started + std::chrono::seconds(duration_s);
  state.last_put_at = put_started;
  for (int64_t c = 0; c < connections; ++c) {
    asio::co_spawn(io, BeanstalkPutter(state), asio::detached);
  }
  io.run();
  double put_s = SecondsBetween(put_started, state.last_put_at);
  // Every job is ready delay_s after its put; a margin for beanstalkd's timer.
  std::this_thread::sleep_until(state.last_put_at + std::chrono::seconds(state.delay_s) +
                                std::chrono::milliseconds(200));
  io.restart();
  auto drain_started = SteadyClock::now();
  state.last_delete_at = drain_started;
  for (int64_t c = 0; c < connections; ++c) {
    asio::co_spawn(io, BeanstalkDrainer(state), asio::detached);
  }
  io.run();
  double drain_s = SecondsBetween(drain_started, state.last_delete_at);
  const Ledger& ledger = state.ledger;
  Report report("beanstalk");
  report.Set("connections", connections)
      .Set("delay_s", state.delay_s)
      .Set("puts", state.puts)
      .Set("put_rps", put_s > 0 ? static_cast<double>(state.puts) / put_s : 0.0, 1)
      .Latency("put_", state.put_latency, false)
      .Set("reserved", ledger.received())
      .Set("deleted", state.deleted)
      .Set("missing", ledger.missing())
      .Set("duplicates", ledger.duplicates())
      .Set("unexpected", ledger.unexpected())
      .Errors("errors", "errors", state.errors)
      .Set("drain_jobs_per_s", drain_s > 0 ? static_cast<double>(state.deleted) / drain_s : 0.0, 1)
      .Latency("drain_", state.drain_latency, false)
      .Set("note", "drain = reserve-with-timeout 0 + delete per job, closed loop per connection");
  return report
      .Require(state.errors.count == 0 && state.puts > 0 && ledger.missing() == 0 &&
               ledger.duplicates() == 0 && ledger.unexpected() == 0 && state.deleted == state.puts)
      .Print();
}

}  // namespace loadgen
