// delayq_loadgen: closed-loop HTTP load generator for bench/run.sh.
//
// One tool drives both delayq and the nginx reference so the numbers are comparable: same
// connection handling, same request formatting cost, same latency histogram. It speaks just
// enough HTTP/1.1 (keep-alive, Content-Length bodies) for those two servers; Boost.Beast would
// do it more generally but doubles the compile time of a file that only needs this much.
//
//   loadgen add  --addr HOST:PORT --connections N --duration-s S [--topic T] [--due-offset-s X]
//   loadgen fire --addr HOST:PORT --tasks N --spread-s S --consumers C [--topic T]
//   loadgen http --addr HOST:PORT --connections N --duration-s S [--path P]
//
// Each prints one line of JSON on stdout; diagnostics go to stderr. The exit status is non-zero
// when the run is not a valid measurement (nothing completed, lost or duplicated tasks).

#include <algorithm>
#include <bit>
#include <boost/asio.hpp>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// Log-linear latency histogram in microseconds, after HdrHistogram: values below 128 are kept
// exactly; every power-of-two range above is split into 64 equal buckets, so a reported value
// is at most 1/64 (1.6%) above the true one. 2,048 counters cover up to ~38 hours, so memory
// stays constant however many requests a run makes, and per-thread copies merge by addition.
class LatencyHistogram {
 public:
  void Record(int64_t micros) {
    uint64_t value = micros < 0 ? 0 : static_cast<uint64_t>(micros);
    ++counts_[IndexOf(value)];
    ++total_;
    max_ = std::max(max_, value);
  }

  void Merge(const LatencyHistogram& other) {
    for (size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
  }

  uint64_t total() const { return total_; }
  uint64_t max() const { return max_; }

  // The upper edge of the bucket holding the given rank: never under-reports a tail.
  uint64_t ValueAtPercentile(double percentile) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<uint64_t>(std::ceil(percentile / 100.0 * static_cast<double>(total_)));
    rank = std::clamp<uint64_t>(rank, 1, total_);
    if (rank == total_) return max_;  // exact even for values past the last bucket
    uint64_t seen = 0;
    for (size_t i = 0; i < kBucketCount; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(UpperEdgeOf(i), max_);
    }
    return max_;
  }

 private:
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBucketCount = uint64_t{1} << kSubBucketBits;  // exact range
  static constexpr uint64_t kSubBucketHalf = kSubBucketCount / 2;  // buckets per power of two
  static constexpr int kMaxShift = 30;
  static constexpr size_t kBucketCount = kSubBucketCount + kMaxShift * kSubBucketHalf;

  static size_t IndexOf(uint64_t value) {
    if (value < kSubBucketCount) return value;
    int shift = std::bit_width(value) - kSubBucketBits;
    if (shift > kMaxShift) return kBucketCount - 1;
    uint64_t top_bits = value >> shift;  // in [kSubBucketHalf, kSubBucketCount)
    return kSubBucketCount + (shift - 1) * kSubBucketHalf + (top_bits - kSubBucketHalf);
  }

  static uint64_t UpperEdgeOf(size_t index) {
    if (index < kSubBucketCount) return index;
    uint64_t shift = (index - kSubBucketCount) / kSubBucketHalf + 1;
    uint64_t top_bits = (index - kSubBucketCount) % kSubBucketHalf + kSubBucketHalf;
    return ((top_bits + 1) << shift) - 1;
  }

  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kBucketCount, 0);
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

double Millis(uint64_t micros) { return static_cast<double>(micros) / 1000.0; }

int64_t WallClockMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- Command line ------------------------------------------------------------------------

class Options {
 public:
  // Accepts only `--name value` pairs whose names are in `known`, so a typo fails loudly
  // instead of silently benchmarking the default.
  Options(int argc, char** argv, std::set<std::string> known) {
    for (int i = 2; i < argc; ++i) {
      std::string name = argv[i];
      if (!name.starts_with("--") || !known.contains(name.substr(2))) {
        throw std::invalid_argument("unknown option " + name);
      }
      if (i + 1 >= argc) throw std::invalid_argument("option " + name + " needs a value");
      values_[name.substr(2)] = argv[++i];
    }
  }

  std::string String(const std::string& name, std::optional<std::string> fallback = {}) const {
    auto it = values_.find(name);
    if (it != values_.end()) return it->second;
    if (fallback) return *fallback;
    throw std::invalid_argument("missing --" + name);
  }

  int64_t Integer(const std::string& name, std::optional<int64_t> fallback = {}) const {
    auto it = values_.find(name);
    if (it == values_.end()) {
      if (fallback) return *fallback;
      throw std::invalid_argument("missing --" + name);
    }
    size_t used = 0;
    int64_t value = std::stoll(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument("--" + name + " must be a number");
    return value;
  }

 private:
  std::map<std::string, std::string> values_;
};

tcp::endpoint ParseEndpoint(const std::string& addr) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("--addr must be HOST:PORT");
  return tcp::endpoint(asio::ip::make_address(addr.substr(0, colon)),
                       static_cast<uint16_t>(std::stoi(addr.substr(colon + 1))));
}

// ---- Minimal HTTP/1.1 client ----------------------------------------------------------------

struct HttpResponse {
  int status = 0;
  std::string body;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// One keep-alive connection with at most one request in flight (closed loop). Reconnects
// lazily, so a server that closes a connection costs one error, not the rest of the run.
class HttpConnection {
 public:
  HttpConnection(asio::any_io_executor executor, tcp::endpoint endpoint)
      : socket_(executor), endpoint_(endpoint) {}

  // Throws boost::system::system_error or std::runtime_error; the connection is then closed
  // and the next call reconnects.
  awaitable<HttpResponse> RoundTrip(std::string_view request) {
    try {
      if (!socket_.is_open()) {
        buffer_.clear();
        co_await socket_.async_connect(endpoint_, use_awaitable);
        // Requests are small and sent whole; Nagle would only add delay to each of them.
        socket_.set_option(tcp::no_delay(true));
      }
      co_await asio::async_write(socket_, asio::buffer(request), use_awaitable);
      co_return co_await ReadResponse();
    } catch (...) {
      boost::system::error_code ignored;
      socket_.close(ignored);
      throw;
    }
  }

 private:
  awaitable<HttpResponse> ReadResponse() {
    size_t header_bytes = co_await asio::async_read_until(socket_, asio::dynamic_buffer(buffer_),
                                                          "\r\n\r\n", use_awaitable);
    std::string_view head(buffer_.data(), header_bytes);

    HttpResponse response;
    // "HTTP/1.1 200 OK": the status code starts after the first space.
    size_t space = head.find(' ');
    if (!head.starts_with("HTTP/1.") || space == std::string_view::npos) {
      throw std::runtime_error("malformed status line");
    }
    response.status = std::atoi(head.data() + space + 1);

    std::optional<size_t> content_length;
    bool close_after = head.starts_with("HTTP/1.0");
    size_t line_start = head.find("\r\n") + 2;
    while (line_start < header_bytes - 2) {
      size_t line_end = head.find("\r\n", line_start);
      std::string_view line = head.substr(line_start, line_end - line_start);
      line_start = line_end + 2;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = line.substr(0, colon);
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (EqualsIgnoreCase(name, "content-length")) {
        content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
      } else if (EqualsIgnoreCase(name, "connection")) {
        close_after = EqualsIgnoreCase(value, "close");
      } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
        // Neither delayq nor the nginx reference sends chunked bodies for these requests.
        throw std::runtime_error("chunked responses are not supported");
      }
    }
    if (!content_length) throw std::runtime_error("response without Content-Length");

    size_t needed = header_bytes + *content_length;
    if (buffer_.size() < needed) {
      co_await asio::async_read(socket_, asio::dynamic_buffer(buffer_),
                                asio::transfer_exactly(needed - buffer_.size()), use_awaitable);
    }
    response.body.assign(buffer_, header_bytes, *content_length);
    buffer_.erase(0, needed);
    if (close_after) {
      boost::system::error_code ignored;
      socket_.close(ignored);
    }
    co_return response;
  }

  tcp::socket socket_;
  tcp::endpoint endpoint_;
  std::string buffer_;  // bytes read but not yet consumed
};

std::string PostRequest(std::string_view path, std::string_view host, std::string_view body) {
  std::string request;
  request.reserve(160 + body.size());
  request += "POST ";
  request += path;
  request += " HTTP/1.1\r\nHost: ";
  request += host;
  request += "\r\nContent-Type: application/json\r\nContent-Length: ";
  request += std::to_string(body.size());
  request += "\r\n\r\n";
  request += body;
  return request;
}

// The few fields we read are flat in the top-level object of responses we know the shape of,
// so a scan for `"name":` is enough; a real JSON parser would dominate the client's CPU.
std::optional<std::string_view> RawField(std::string_view json, std::string_view name) {
  std::string key = "\"" + std::string(name) + "\"";
  size_t at = json.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  at = json.find_first_not_of(" \t\r\n", at + key.size());
  if (at == std::string_view::npos || json[at] != ':') return std::nullopt;
  at = json.find_first_not_of(" \t\r\n", at + 1);
  if (at == std::string_view::npos) return std::nullopt;
  size_t end = at;
  if (json[at] == '"') {
    end = at + 1;
    while (end < json.size() && json[end] != '"') end += json[end] == '\\' ? 2 : 1;
    return json.substr(at + 1, std::min(end, json.size()) - at - 1);
  }
  while (end < json.size() && json[end] != ',' && json[end] != '}') ++end;
  return json.substr(at, end - at);
}

std::optional<int64_t> IntegerField(std::string_view json, std::string_view name) {
  auto raw = RawField(json, name);
  if (!raw || raw->empty()) return std::nullopt;
  char* end = nullptr;
  std::string text(*raw);
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str()) return std::nullopt;
  return value;
}

// Task ids use all 64 bits; strtoll would saturate the ones above 2^63.
std::optional<uint64_t> TaskIdField(std::string_view json) {
  auto raw = RawField(json, "task_id");
  if (!raw || raw->empty()) return std::nullopt;
  std::string text(*raw);
  char* end = nullptr;
  unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str()) return std::nullopt;
  return value;
}

bool IsSuccess(const HttpResponse& response) {
  return response.status == 200 && IntegerField(response.body, "dm_error") == 0;
}

// Boost's system_error what() appends a source location that buries the actual reason.
std::string Describe(const std::exception& error) {
  if (const auto* system = dynamic_cast<const boost::system::system_error*>(&error)) {
    return system->code().message();
  }
  return error.what();
}

// ---- Closed-loop throughput scenarios (add, http) ------------------------------------------

struct RunStats {
  uint64_t requests = 0;
  uint64_t errors = 0;
  LatencyHistogram latency;
  std::string first_error;  // one example, so a failing run says why

  void NoteError(std::string what) {
    ++errors;
    if (first_error.empty()) first_error = std::move(what);
  }
};

// Builds the request a connection sends next; called once per request so adds can carry the
// current time.
using RequestFactory = std::function<std::string()>;

awaitable<void> ClosedLoopWorker(tcp::endpoint endpoint, RequestFactory make_request,
                                 bool check_dm_error, SteadyClock::time_point deadline,
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
      auto micros =
          std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started)
              .count();
      if (response.status != 200 || (check_dm_error && !IsSuccess(response))) {
        stats.NoteError("HTTP " + std::to_string(response.status) + ": " + response.body);
      } else {
        ++stats.requests;
        stats.latency.Record(micros);
      }
    } catch (const std::exception& e) {
      stats.NoteError(Describe(e));
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
// own stats (no sharing on the hot path), and prints the merged result.
int RunClosedLoop(std::string_view scenario, tcp::endpoint endpoint, int64_t connections,
                  int64_t threads, int64_t duration_s, bool check_dm_error,
                  const std::function<RequestFactory()>& factory_per_connection) {
  if (connections < 1 || threads < 1 || duration_s < 1) {
    throw std::invalid_argument("--connections, --threads and --duration-s must be >= 1");
  }
  threads = std::min(threads, connections);
  std::vector<RunStats> stats_per_thread(static_cast<size_t>(threads));
  std::vector<std::thread> workers;
  auto started = SteadyClock::now();
  auto deadline = started + std::chrono::seconds(duration_s);
  for (int64_t t = 0; t < threads; ++t) {
    int64_t mine = connections / threads + (t < connections % threads ? 1 : 0);
    std::vector<RequestFactory> factories;
    for (int64_t c = 0; c < mine; ++c) factories.push_back(factory_per_connection());
    workers.emplace_back([&, t, factories = std::move(factories)] {
      asio::io_context io(1);
      for (const auto& make_request : factories) {
        asio::co_spawn(io,
                       ClosedLoopWorker(endpoint, make_request, check_dm_error, deadline,
                                        stats_per_thread[static_cast<size_t>(t)]),
                       asio::detached);
      }
      io.run();
    });
  }
  for (auto& worker : workers) worker.join();
  double elapsed_s = std::chrono::duration<double>(SteadyClock::now() - started).count();

  RunStats total;
  for (const auto& stats : stats_per_thread) {
    total.requests += stats.requests;
    total.errors += stats.errors;
    total.latency.Merge(stats.latency);
    if (total.first_error.empty()) total.first_error = stats.first_error;
  }
  if (!total.first_error.empty()) {
    std::fprintf(stderr, "loadgen %.*s: %llu errors, first: %s\n",
                 static_cast<int>(scenario.size()), scenario.data(),
                 static_cast<unsigned long long>(total.errors), total.first_error.c_str());
  }
  std::printf(
      "{\"scenario\":\"%.*s\",\"connections\":%lld,\"requests\":%llu,\"errors\":%llu,"
      "\"rps\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
      static_cast<int>(scenario.size()), scenario.data(), static_cast<long long>(connections),
      static_cast<unsigned long long>(total.requests),
      static_cast<unsigned long long>(total.errors),
      static_cast<double>(total.requests) / elapsed_s, Millis(total.latency.ValueAtPercentile(50)),
      Millis(total.latency.ValueAtPercentile(99)), Millis(total.latency.max()));
  std::fflush(stdout);
  return total.requests > 0 ? 0 : 1;
}

int RunAdd(const Options& options) {
  std::string addr = options.String("addr");
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
  return RunClosedLoop("add", ParseEndpoint(addr), options.Integer("connections"),
                       options.Integer("threads", 1), options.Integer("duration-s"),
                       /*check_dm_error=*/true, factory);
}

int RunHttp(const Options& options) {
  std::string addr = options.String("addr");
  std::string request =
      "GET " + options.String("path", "/") + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n";
  auto factory = [request]() -> RequestFactory { return [request] { return request; }; };
  return RunClosedLoop("http", ParseEndpoint(addr), options.Integer("connections"),
                       options.Integer("threads", 1), options.Integer("duration-s"),
                       /*check_dm_error=*/false, factory);
}

// ---- Firing scenario -------------------------------------------------------------------------

// All of it runs on one event-loop thread, so the shared state below needs no locks.
struct FireState {
  tcp::endpoint endpoint;
  std::string addr;
  std::string topic;
  int64_t tasks = 0;
  int64_t first_due_s = 0;
  int64_t spread_s = 0;

  // Add phase.
  int64_t next_task = 0;
  uint64_t add_errors = 0;
  uint64_t added_after_due = 0;  // acknowledged only after their due second had begun
  std::string first_add_error;
  std::unordered_map<uint64_t, bool> received_by_id;  // every added id -> seen by a consumer?

  // Pull phase.
  uint64_t received = 0;
  uint64_t duplicates = 0;
  uint64_t unexpected = 0;  // ids we never added
  uint64_t early = 0;       // handed out before their due time
  int64_t min_lateness_us = INT64_MAX;
  uint64_t pulls = 0;
  uint64_t empty_pulls = 0;
  uint64_t pull_errors = 0;
  std::string first_pull_error;
  LatencyHistogram lateness;
  SteadyClock::time_point give_up_at;

  bool AllReceived() const { return received >= received_by_id.size(); }

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
      state.received_by_id.emplace(*id, false);
      if (WallClockMicros() >= due_s * 1'000'000) ++state.added_after_due;
    } catch (const std::exception& e) {
      ++state.add_errors;
      if (state.first_add_error.empty()) state.first_add_error = Describe(e);
    }
  }
}

awaitable<void> FireConsumer(FireState& state) {
  HttpConnection connection(co_await asio::this_coro::executor, state.endpoint);
  const std::string request =
      PostRequest("/delay/task/pull", state.addr, "{\"topic\":\"" + state.topic + "\"}");
  // Tight loop, as a seed consumer polling for work would: an empty answer is asked again
  // at once, which is also what makes the measured lateness the server's, not ours.
  while (!state.AllReceived() && SteadyClock::now() < state.give_up_at) {
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
      auto entry = state.received_by_id.find(*id);
      if (entry == state.received_by_id.end()) {
        ++state.unexpected;
        continue;
      }
      if (entry->second) {
        ++state.duplicates;
        continue;
      }
      entry->second = true;
      ++state.received;
      auto due_ms = IntegerField(response.body, "content");
      if (!due_ms) throw std::runtime_error("content is not a due time: " + response.body);
      int64_t lateness_us = received_us - *due_ms * 1000;
      if (lateness_us < 0) ++state.early;
      state.min_lateness_us = std::min(state.min_lateness_us, lateness_us);
      state.lateness.Record(lateness_us);
    } catch (const std::exception& e) {
      ++state.pull_errors;
      if (state.first_pull_error.empty()) state.first_pull_error = Describe(e);
    }
  }
}

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
  double add_elapsed_s = std::chrono::duration<double>(SteadyClock::now() - add_started).count();
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

  uint64_t added = state.received_by_id.size();
  uint64_t missing = added - state.received;
  if (!state.first_add_error.empty()) {
    std::fprintf(stderr, "loadgen fire: %llu add errors, first: %s\n",
                 static_cast<unsigned long long>(state.add_errors), state.first_add_error.c_str());
  }
  if (!state.first_pull_error.empty()) {
    std::fprintf(stderr, "loadgen fire: %llu pull errors, first: %s\n",
                 static_cast<unsigned long long>(state.pull_errors),
                 state.first_pull_error.c_str());
  }
  int64_t distinct_seconds = std::min(state.spread_s, state.tasks);
  std::printf(
      "{\"scenario\":\"fire\",\"tasks\":%lld,\"spread_s\":%lld,\"consumers\":%lld,"
      "\"add_connections\":%lld,\"add_rps\":%.1f,\"add_errors\":%llu,\"added_after_due\":%llu,"
      "\"first_due_after_add_phase_ms\":%lld,\"received\":%llu,\"missing\":%llu,"
      "\"duplicates\":%llu,\"unexpected\":%llu,\"early\":%llu,\"min_ms\":%.3f,"
      "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"pulls\":%llu,\"empty_pulls\":%llu,"
      "\"pull_errors\":%llu,\"distinct_due_seconds\":%lld,"
      "\"note\":\"timing_moment has 1 s resolution, so the tasks fall on %lld distinct seconds "
      "(~%lld due at once each); lateness = receive wall time - due second\"}\n",
      static_cast<long long>(state.tasks), static_cast<long long>(state.spread_s),
      static_cast<long long>(consumers), static_cast<long long>(add_connections),
      static_cast<double>(added) / add_elapsed_s, static_cast<unsigned long long>(state.add_errors),
      static_cast<unsigned long long>(state.added_after_due),
      static_cast<long long>((state.first_due_s * 1'000'000 - add_finished_us) / 1000),
      static_cast<unsigned long long>(state.received), static_cast<unsigned long long>(missing),
      static_cast<unsigned long long>(state.duplicates),
      static_cast<unsigned long long>(state.unexpected),
      static_cast<unsigned long long>(state.early),
      state.received > 0 ? static_cast<double>(state.min_lateness_us) / 1000.0 : 0.0,
      Millis(state.lateness.ValueAtPercentile(50)), Millis(state.lateness.ValueAtPercentile(99)),
      Millis(state.lateness.max()), static_cast<unsigned long long>(state.pulls),
      static_cast<unsigned long long>(state.empty_pulls),
      static_cast<unsigned long long>(state.pull_errors), static_cast<long long>(distinct_seconds),
      static_cast<long long>(distinct_seconds),
      static_cast<long long>(state.tasks / distinct_seconds));
  std::fflush(stdout);
  bool valid = state.add_errors == 0 && added == static_cast<uint64_t>(state.tasks) &&
               missing == 0 && state.duplicates == 0 && state.unexpected == 0 && state.early == 0;
  return valid ? 0 : 1;
}

void PrintUsage() {
  std::fputs(
      "usage:\n"
      "  delayq_loadgen add  --addr HOST:PORT --connections N --duration-s S [--topic T]\n"
      "                      [--due-offset-s X] [--threads T]\n"
      "  delayq_loadgen fire --addr HOST:PORT [--tasks 50000] [--spread-s 5] [--consumers 4]\n"
      "                      [--topic T] [--add-connections 32] [--lead-s 3] [--timeout-s 60]\n"
      "  delayq_loadgen http --addr HOST:PORT --connections N --duration-s S [--path /]\n"
      "                      [--threads T]\n",
      stderr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    PrintUsage();
    return 2;
  }
  std::string_view command = argv[1];
  try {
    if (command == "add") {
      return RunAdd(Options(
          argc, argv, {"addr", "connections", "duration-s", "topic", "due-offset-s", "threads"}));
    }
    if (command == "http") {
      return RunHttp(Options(argc, argv, {"addr", "connections", "duration-s", "path", "threads"}));
    }
    if (command == "fire") {
      return RunFire(Options(argc, argv,
                             {"addr", "tasks", "spread-s", "consumers", "topic", "add-connections",
                              "lead-s", "timeout-s"}));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "delayq_loadgen %s: %s\n", argv[1], e.what());
    return 2;
  }
  PrintUsage();
  return 2;
}
