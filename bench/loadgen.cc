// delayq_loadgen: closed-loop HTTP load generator for bench/run.py.
//
// One tool drives both delayq and the nginx reference so the numbers are comparable: same
// connection handling, same request formatting cost, same latency histogram. It speaks just
// enough HTTP/1.1 (keep-alive, Content-Length bodies) for those two servers; Boost.Beast would
// do it more generally but doubles the compile time of a file that only needs this much.
//
//   loadgen add  --addr HOST:PORT --connections N --duration-s S [--topic T] [--due-offset-s X]
//   loadgen fire --addr HOST:PORT --tasks N --spread-s S --consumers C [--topic T]
//   loadgen http --addr HOST:PORT --connections N --duration-s S [--path P]
//   loadgen batch --addr HOST:PORT --connections N --duration-s S [--batch 100]  (v1 batch adds)
//   loadgen pull --addr HOST:PORT --tasks N --consumers C [--max 100]  (v1 pull + ack)
//   loadgen longpoll --addr HOST:PORT --rounds R  (v1 long poll woken by a task falling due)
//   loadgen callback-add --addr HOST:PORT --tasks N --url URL [--lead-ms L --spread-ms S]
//   loadgen callback-log --log FILE [--ids FILE]  (lateness and exactly-once from a receiver log)
//   loadgen fire-ms --addr HOST:PORT --tasks N --spread-ms S --lead-ms L  (v1, at_ms, pull+ack)
//   loadgen backlog-add --addr HOST:PORT --tasks N  (v1 batches due hours ahead)
//   loadgen topics-add --addr HOST:PORT --topics N --url URL  (one callback task per topic)
//   loadgen beanstalk --addr HOST:PORT --connections N --duration-s S  (beanstalkd reference)
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
#include <fstream>
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

// "HOST:PORT[,HOST:PORT...]": closed-loop runs spread their connections over several
// servers (the redis-mode section drives 2-3 instances from one client process, as
// redis-benchmark is one process).
std::vector<tcp::endpoint> ParseEndpoints(const std::string& addrs) {
  std::vector<tcp::endpoint> out;
  for (size_t start = 0; start <= addrs.size();) {
    size_t comma = std::min(addrs.find(',', start), addrs.size());
    out.push_back(ParseEndpoint(addrs.substr(start, comma - start)));
    start = comma + 1;
  }
  return out;
}

// The first of a list of addresses: the Host header.
std::string FirstAddr(const std::string& addrs) { return addrs.substr(0, addrs.find(',')); }

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
      co_await ConnectIfClosed();
      co_await asio::async_write(socket_, asio::buffer(request), use_awaitable);
      co_return co_await ReadResponse();
    } catch (...) {
      boost::system::error_code ignored;
      socket_.close(ignored);
      throw;
    }
  }

  // HTTP/1.1 pipelining: `requests` holds `count` whole requests, sent in one write; their
  // responses are read in order. Used for the acks of one pull, which need no round trip each.
  awaitable<std::vector<HttpResponse>> Pipeline(std::string_view requests, size_t count) {
    try {
      co_await ConnectIfClosed();
      co_await asio::async_write(socket_, asio::buffer(requests), use_awaitable);
      std::vector<HttpResponse> responses;
      responses.reserve(count);
      for (size_t i = 0; i < count; ++i) {
        if (!socket_.is_open()) throw std::runtime_error("connection closed mid-pipeline");
        responses.push_back(co_await ReadResponse());
      }
      co_return responses;
    } catch (...) {
      boost::system::error_code ignored;
      socket_.close(ignored);
      throw;
    }
  }

 private:
  awaitable<void> ConnectIfClosed() {
    if (socket_.is_open()) co_return;
    buffer_.clear();
    co_await socket_.async_connect(endpoint_, use_awaitable);
    // Requests are small and sent whole; Nagle would only add delay to each of them.
    socket_.set_option(tcp::no_delay(true));
  }

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

// A v1 task id ("384241960623276032") or another positive decimal; nothing but digits.
std::optional<uint64_t> ParsePositiveDecimal(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value == 0) return std::nullopt;
  return value;
}

// The `ids` of a v1 batch answer, {"ids":["384…","384…"],"due_at_ms":[…]}, in order; empty when
// the body is not such an answer.
std::vector<uint64_t> ParseIdArray(std::string_view json) {
  std::vector<uint64_t> ids;
  size_t at = json.find("\"ids\":[");
  if (at == std::string_view::npos) return ids;
  at += 7;
  while (at < json.size() && json[at] == '"') {
    size_t end = json.find('"', at + 1);
    if (end == std::string_view::npos) return {};
    auto id = ParsePositiveDecimal(json.substr(at + 1, end - at - 1));
    if (!id) return {};
    ids.push_back(*id);
    at = end + 1;
    if (at < json.size() && json[at] == ',') ++at;
  }
  if (at >= json.size() || json[at] != ']') return {};
  return ids;
}

// One task of a v1 pull answer.
struct PulledTask {
  uint64_t id = 0;
  std::string lease;
  int64_t attempt = 0;
  int64_t due_at_ms = 0;
};

// {"tasks":[{"id":"…","payload":…,"attempt":1,"due_at_ms":…,"lease":"…",…},…]}: split at each
// task's `{"id":` and read the fields of that slice. The payloads our scenarios add are short
// strings holding no field name, so the scan cannot be misled by them. nullopt when the body is
// not a pull answer.
std::optional<std::vector<PulledTask>> ParsePulledTasks(std::string_view json) {
  size_t at = json.find("\"tasks\":[");
  if (at == std::string_view::npos) return std::nullopt;
  std::vector<PulledTask> tasks;
  constexpr std::string_view kMarker = "{\"id\":";
  at = json.find(kMarker, at);
  while (at != std::string_view::npos) {
    size_t next = json.find(kMarker, at + kMarker.size());
    std::string_view slice =
        json.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at);
    auto id = RawField(slice, "id");
    auto lease = RawField(slice, "lease");
    auto attempt = IntegerField(slice, "attempt");
    auto due_at_ms = IntegerField(slice, "due_at_ms");
    std::optional<uint64_t> parsed_id = id ? ParsePositiveDecimal(*id) : std::nullopt;
    if (!parsed_id || !lease || lease->empty() || !attempt || !due_at_ms) return std::nullopt;
    tasks.push_back({*parsed_id, std::string(*lease), *attempt, *due_at_ms});
    at = next;
  }
  return tasks;
}

std::string AckRequest(std::string_view host, const PulledTask& task) {
  return PostRequest("/v1/tasks/" + std::to_string(task.id) + "/ack", host,
                     "{\"lease\":\"" + task.lease + "\"}");
}

// One POST /v1/tasks:ack for every task of a pull.
std::string BatchAckRequest(std::string_view host, const std::vector<PulledTask>& tasks) {
  std::string body = "{\"acks\":[";
  body.reserve(16 + tasks.size() * 60);
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (i) body += ',';
    body += "{\"id\":\"" + std::to_string(tasks[i].id) + "\",\"lease\":\"" + tasks[i].lease + "\"}";
  }
  body += "]}";
  return PostRequest("/v1/tasks:ack", host, body);
}

// How many items of a batch ack answer were applied: {"results":[{"id":…,"state":"done"},…]}.
size_t CountBatchAcked(std::string_view body) {
  size_t count = 0;
  constexpr std::string_view kDone = "\"state\":\"done\"";
  for (size_t at = body.find(kDone); at != std::string_view::npos;
       at = body.find(kDone, at + kDone.size())) {
    ++count;
  }
  return count;
}

// Boost's system_error what() appends a source location that buries the actual reason.
std::string Describe(const std::exception& error) {
  if (const auto* system = dynamic_cast<const boost::system::system_error*>(&error)) {
    return system->code().message();
  }
  return error.what();
}

// "loadgen <scenario>: N <what>, first: ..." on stderr when any request failed, so that a
// failing run says why.
void ReportErrors(std::string_view scenario, std::string_view what, uint64_t count,
                  const std::string& first) {
  if (first.empty()) return;
  std::fprintf(stderr, "loadgen %.*s: %llu %.*s, first: %s\n", static_cast<int>(scenario.size()),
               scenario.data(), static_cast<unsigned long long>(count),
               static_cast<int>(what.size()), what.data(), first.c_str());
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
      auto micros =
          std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started)
              .count();
      if (!accept(response)) {
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
// own stats (no sharing on the hot path), and prints the merged result. With
// `tasks_per_request` > 0 (batch adds) it also reports the task rate it stands for.
int RunClosedLoop(std::string_view scenario, const std::vector<tcp::endpoint>& endpoints,
                  int64_t connections, int64_t threads, int64_t duration_s,
                  const ResponseCheck& accept,
                  const std::function<RequestFactory()>& factory_per_connection,
                  int64_t tasks_per_request = 0) {
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
  double elapsed_s = std::chrono::duration<double>(SteadyClock::now() - started).count();

  RunStats total;
  for (const auto& stats : stats_per_thread) {
    total.requests += stats.requests;
    total.errors += stats.errors;
    total.latency.Merge(stats.latency);
    if (total.first_error.empty()) total.first_error = stats.first_error;
  }
  ReportErrors(scenario, "errors", total.errors, total.first_error);
  double rps = static_cast<double>(total.requests) / elapsed_s;
  std::string batch_fields;
  if (tasks_per_request > 0) {
    char text[96];
    std::snprintf(text, sizeof text, ",\"batch\":%lld,\"tasks_per_s\":%.1f",
                  static_cast<long long>(tasks_per_request),
                  rps * static_cast<double>(tasks_per_request));
    batch_fields = text;
  }
  std::printf(
      "{\"scenario\":\"%.*s\",\"connections\":%lld,\"requests\":%llu,\"errors\":%llu,"
      "\"rps\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f%s}\n",
      static_cast<int>(scenario.size()), scenario.data(), static_cast<long long>(connections),
      static_cast<unsigned long long>(total.requests),
      static_cast<unsigned long long>(total.errors), rps,
      Millis(total.latency.ValueAtPercentile(50)), Millis(total.latency.ValueAtPercentile(99)),
      Millis(total.latency.max()), batch_fields.c_str());
  std::fflush(stdout);
  return total.requests > 0 ? 0 : 1;
}

int RunAdd(const Options& options) {
  std::string addrs = options.String("addr");
  std::string addr = FirstAddr(addrs);
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
  return RunClosedLoop("add", ParseEndpoints(addrs), options.Integer("connections"),
                       options.Integer("threads", 1), options.Integer("duration-s"), IsSuccess,
                       factory);
}

int RunHttp(const Options& options) {
  std::string addrs = options.String("addr");
  std::string addr = FirstAddr(addrs);
  std::string request =
      "GET " + options.String("path", "/") + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n";
  auto factory = [request]() -> RequestFactory { return [request] { return request; }; };
  return RunClosedLoop(
      "http", ParseEndpoints(addrs), options.Integer("connections"), options.Integer("threads", 1),
      options.Integer("duration-s"),
      [](const HttpResponse& response) { return response.status == 200; }, factory);
}

// v1 batch adds: every request adds `batch` tasks to one topic in one atomic write. Far ahead,
// like the seed adds, so nothing fires during the run. The body is the same for every request
// (delay_ms, not a wall-clock time), so building it costs nothing on the hot path.
int RunBatch(const Options& options) {
  std::string addrs = options.String("addr");
  std::string addr = FirstAddr(addrs);
  std::string topic = options.String("topic", "bench_batch");
  int64_t batch = options.Integer("batch", 100);
  int64_t delay_ms = options.Integer("delay-ms", 3'600'000);
  if (batch < 1 || batch > 1000) throw std::invalid_argument("--batch must be 1 to 1000");
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
  return RunClosedLoop("batch", ParseEndpoints(addrs), options.Integer("connections"),
                       options.Integer("threads", 1), options.Integer("duration-s"), accept,
                       factory, batch);
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
  ReportErrors("fire", "add errors", state.add_errors, state.first_add_error);
  ReportErrors("fire", "pull errors", state.pull_errors, state.first_pull_error);
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

// ---- v1 pull + ack scenario ------------------------------------------------------------------

// Preloads `tasks` tasks due now, then drains them with pull + ack. All of it runs on one
// event-loop thread, like the firing scenario, so the shared state needs no locks.
struct PullState {
  tcp::endpoint endpoint;
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
  uint64_t preload_errors = 0;
  uint64_t added_after_due = 0;  // acknowledged only after the first due time of their batch
  std::string first_preload_error;
  std::unordered_map<uint64_t, bool> received_by_id;  // every added id -> seen by a consumer?

  // Pull + ack.
  uint64_t received = 0;
  uint64_t duplicates = 0;
  uint64_t unexpected = 0;   // ids we never added
  uint64_t redelivered = 0;  // attempt > 1: a lease ran out or a delivery was repeated
  uint64_t acked = 0;
  uint64_t ack_errors = 0;
  uint64_t pulls = 0;
  uint64_t empty_pulls = 0;
  uint64_t pull_errors = 0;
  std::string first_pull_error;
  std::string first_ack_error;
  LatencyHistogram pull_latency;  // one pull request
  LatencyHistogram lateness;      // wall time a pull answer was read - due_at_ms, per first receipt
  uint64_t early = 0;             // received before due_at_ms (never expected)
  int64_t min_lateness_us = INT64_MAX;
  int64_t last_received_us = 0;  // wall time of the last first receipt
  LatencyHistogram ack_latency;  // the pipelined acks of one pull, first byte out to last in
  SteadyClock::time_point started;
  SteadyClock::time_point last_ack_at;
  SteadyClock::time_point give_up_at;

  bool AllReceived() const { return received >= received_by_id.size(); }

  int64_t DueMsOf(int64_t task) const { return first_due_ms + task * spread_ms / tasks; }
};

constexpr int64_t kPreloadBatch = 1000;  // the API's largest batch

awaitable<void> PullPreloader(PullState& state) {
  HttpConnection connection(co_await asio::this_coro::executor, state.endpoint);
  const std::string path = "/v1/topics/" + state.topic + "/tasks:batch";
  while (state.next_task < state.tasks) {
    int64_t first = state.next_task;
    int64_t count = std::min(kPreloadBatch, state.tasks - first);
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
        if (!state.received_by_id.emplace(id, false).second) {
          throw std::runtime_error("batch answered an id twice: " + std::to_string(id));
        }
      }
      if (state.timed && WallClockMicros() / 1000 >= state.DueMsOf(first)) {
        state.added_after_due += static_cast<uint64_t>(count);
      }
    } catch (const std::exception& e) {
      ++state.preload_errors;
      if (state.first_preload_error.empty()) state.first_preload_error = Describe(e);
    }
  }
}

// Pulls up to `max`, then acks every task it got with its lease: all acks of one pull are
// pipelined in one write on the consumer's own connection, and the next pull is sent once they
// are all answered.
awaitable<void> PullConsumer(PullState& state) {
  auto executor = co_await asio::this_coro::executor;
  HttpConnection connection(executor, state.endpoint);
  asio::steady_timer backoff(executor);
  const std::string request = PostRequest(
      "/v1/topics/" + state.topic + "/pull", state.addr,
      "{\"max\":" + std::to_string(state.max) + ",\"wait_ms\":" + std::to_string(state.wait_ms) +
          ",\"lease_ms\":" + std::to_string(state.lease_ms) + "}");
  while (!state.AllReceived() && SteadyClock::now() < state.give_up_at) {
    std::vector<PulledTask> tasks;
    int64_t received_us = 0;
    bool failed = false;
    try {
      auto started = SteadyClock::now();
      HttpResponse response = co_await connection.RoundTrip(request);
      received_us = WallClockMicros();
      state.pull_latency.Record(
          std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started)
              .count());
      ++state.pulls;
      auto parsed = response.status == 200 ? ParsePulledTasks(response.body) : std::nullopt;
      if (!parsed) {
        throw std::runtime_error("HTTP " + std::to_string(response.status) + ": " +
                                 response.body.substr(0, 300));
      }
      tasks = std::move(*parsed);
    } catch (const std::exception& e) {
      ++state.pull_errors;
      if (state.first_pull_error.empty()) state.first_pull_error = Describe(e);
      failed = true;
    }
    if (failed) {
      // As in ClosedLoopWorker: a refused connection must not spin.
      backoff.expires_after(std::chrono::milliseconds(10));
      co_await backoff.async_wait(use_awaitable);
      continue;
    }
    if (tasks.empty()) {
      ++state.empty_pulls;
      continue;
    }
    std::string acks;
    for (const PulledTask& task : tasks) {
      if (task.attempt != 1) ++state.redelivered;
      auto entry = state.received_by_id.find(task.id);
      if (entry == state.received_by_id.end()) {
        ++state.unexpected;
      } else if (entry->second) {
        ++state.duplicates;
      } else {
        entry->second = true;
        ++state.received;
        int64_t lateness_us = received_us - task.due_at_ms * 1000;
        if (lateness_us < 0) ++state.early;
        state.min_lateness_us = std::min(state.min_lateness_us, lateness_us);
        state.lateness.Record(lateness_us);
        state.last_received_us = received_us;
      }
      if (!state.batch_ack) acks += AckRequest(state.addr, task);
    }
    if (state.batch_ack) {
      try {
        auto started = SteadyClock::now();
        HttpResponse response = co_await connection.RoundTrip(BatchAckRequest(state.addr, tasks));
        state.last_ack_at = SteadyClock::now();
        state.ack_latency.Record(
            std::chrono::duration_cast<std::chrono::microseconds>(state.last_ack_at - started)
                .count());
        size_t done = response.status == 200 ? CountBatchAcked(response.body) : 0;
        state.acked += done;
        if (done != tasks.size()) {
          state.ack_errors += tasks.size() - done;
          if (state.first_ack_error.empty()) {
            state.first_ack_error = "batch ack: HTTP " + std::to_string(response.status) + ": " +
                                    response.body.substr(0, 300);
          }
        }
      } catch (const std::exception& e) {
        state.ack_errors += tasks.size();
        if (state.first_ack_error.empty()) state.first_ack_error = Describe(e);
      }
      continue;
    }
    try {
      auto started = SteadyClock::now();
      std::vector<HttpResponse> responses = co_await connection.Pipeline(acks, tasks.size());
      state.last_ack_at = SteadyClock::now();
      state.ack_latency.Record(
          std::chrono::duration_cast<std::chrono::microseconds>(state.last_ack_at - started)
              .count());
      for (size_t i = 0; i < responses.size(); ++i) {
        if (responses[i].status == 200) {
          ++state.acked;
        } else {
          ++state.ack_errors;
          if (state.first_ack_error.empty()) {
            state.first_ack_error = "ack of " + std::to_string(tasks[i].id) + ": HTTP " +
                                    std::to_string(responses[i].status) + ": " +
                                    responses[i].body.substr(0, 300);
          }
        }
      }
    } catch (const std::exception& e) {
      state.ack_errors += tasks.size();
      if (state.first_ack_error.empty()) state.first_ack_error = Describe(e);
    }
  }
}

// --ack-mode single (default: a request per task, pipelined) or batch (one tasks:ack per pull).
bool AckMode(const Options& options) {
  std::string mode = options.String("ack-mode", "single");
  if (mode != "single" && mode != "batch") {
    throw std::invalid_argument("--ack-mode must be single or batch, not " + mode);
  }
  return mode == "batch";
}

int RunPull(const Options& options) {
  PullState state;
  state.batch_ack = AckMode(options);
  state.addr = options.String("addr");
  state.endpoint = ParseEndpoint(state.addr);
  state.tasks = options.Integer("tasks", 100'000);
  state.max = options.Integer("max", 100);
  state.wait_ms = options.Integer("wait-ms", 500);
  state.lease_ms = options.Integer("lease-ms", 60'000);
  int64_t consumers = options.Integer("consumers", 4);
  int64_t preload_connections = options.Integer("preload-connections", 4);
  int64_t timeout_s = options.Integer("timeout-s", 60);
  state.topic = options.String("topic", "bench_pull_" + std::to_string(WallClockMicros()));
  if (state.tasks < 1 || consumers < 1 || preload_connections < 1 || state.max < 1 ||
      state.max > 1000) {
    throw std::invalid_argument("--tasks, --consumers must be >= 1, --max 1 to 1000");
  }

  asio::io_context io(1);
  auto preload_started = SteadyClock::now();
  for (int64_t c = 0; c < preload_connections; ++c) {
    asio::co_spawn(io, PullPreloader(state), asio::detached);
  }
  io.run();
  double preload_s = std::chrono::duration<double>(SteadyClock::now() - preload_started).count();

  state.started = SteadyClock::now();
  state.last_ack_at = state.started;
  state.give_up_at = state.started + std::chrono::seconds(timeout_s);
  io.restart();
  for (int64_t c = 0; c < consumers; ++c) {
    asio::co_spawn(io, PullConsumer(state), asio::detached);
  }
  io.run();
  // Up to the last ack: consumers that found nothing left wait out their wait_ms afterwards.
  double elapsed_s = std::chrono::duration<double>(state.last_ack_at - state.started).count();

  uint64_t added = state.received_by_id.size();
  uint64_t missing = added - state.received;
  ReportErrors("pull", "preload errors", state.preload_errors, state.first_preload_error);
  ReportErrors("pull", "pull errors", state.pull_errors, state.first_pull_error);
  ReportErrors("pull", "ack errors", state.ack_errors, state.first_ack_error);
  std::printf(
      "{\"scenario\":\"pull\",\"tasks\":%lld,\"consumers\":%lld,\"max\":%lld,\"wait_ms\":%lld,"
      "\"lease_ms\":%lld,\"preload_tasks_per_s\":%.1f,\"preload_errors\":%llu,\"added\":%llu,"
      "\"received\":%llu,\"missing\":%llu,\"duplicates\":%llu,\"unexpected\":%llu,"
      "\"redelivered\":%llu,\"acked\":%llu,\"ack_errors\":%llu,\"pulls\":%llu,"
      "\"empty_pulls\":%llu,\"pull_errors\":%llu,\"elapsed_s\":%.3f,\"tasks_per_s\":%.1f,"
      "\"pull_p50_ms\":%.3f,\"pull_p99_ms\":%.3f,\"acks_p50_ms\":%.3f,\"acks_p99_ms\":%.3f,"
      "\"note\":\"tasks_per_s = tasks pulled and acked / time from the first pull to the last "
      "ack; the acks of one pull are pipelined in one write on the consumer's connection "
      "(acks_* = that whole exchange)\"}\n",
      static_cast<long long>(state.tasks), static_cast<long long>(consumers),
      static_cast<long long>(state.max), static_cast<long long>(state.wait_ms),
      static_cast<long long>(state.lease_ms), static_cast<double>(added) / preload_s,
      static_cast<unsigned long long>(state.preload_errors), static_cast<unsigned long long>(added),
      static_cast<unsigned long long>(state.received), static_cast<unsigned long long>(missing),
      static_cast<unsigned long long>(state.duplicates),
      static_cast<unsigned long long>(state.unexpected),
      static_cast<unsigned long long>(state.redelivered),
      static_cast<unsigned long long>(state.acked),
      static_cast<unsigned long long>(state.ack_errors),
      static_cast<unsigned long long>(state.pulls),
      static_cast<unsigned long long>(state.empty_pulls),
      static_cast<unsigned long long>(state.pull_errors), elapsed_s,
      elapsed_s > 0 ? static_cast<double>(state.acked) / elapsed_s : 0.0,
      Millis(state.pull_latency.ValueAtPercentile(50)),
      Millis(state.pull_latency.ValueAtPercentile(99)),
      Millis(state.ack_latency.ValueAtPercentile(50)),
      Millis(state.ack_latency.ValueAtPercentile(99)));
  std::fflush(stdout);
  bool valid = state.preload_errors == 0 && added == static_cast<uint64_t>(state.tasks) &&
               missing == 0 && state.duplicates == 0 && state.unexpected == 0 &&
               state.redelivered == 0 && state.pull_errors == 0 && state.ack_errors == 0 &&
               state.acked == added;
  return valid ? 0 : 1;
}

// ---- v1 firing with millisecond due times ------------------------------------------------------

// `tasks` tasks due uniformly over `spread_ms` (each with its own at_ms), the first due at a
// whole second at least `lead_ms` after the adds start; added in batches of 1,000 before the
// first is due, then drained by `consumers` long-polling pull consumers (max `max`, acking every
// task, the acks of one pull pipelined). Lateness = wall time the pull answer was read -
// due_at_ms, once per task.
int RunFireMs(const Options& options) {
  PullState state;
  state.batch_ack = AckMode(options);
  state.timed = true;
  state.addr = options.String("addr");
  state.endpoint = ParseEndpoint(state.addr);
  state.tasks = options.Integer("tasks", 50'000);
  state.spread_ms = options.Integer("spread-ms", 5000);
  state.max = options.Integer("max", 100);
  state.wait_ms = options.Integer("wait-ms", 1000);
  state.lease_ms = options.Integer("lease-ms", 60'000);
  int64_t lead_ms = options.Integer("lead-ms", 5000);
  int64_t consumers = options.Integer("consumers", 4);
  int64_t preload_connections = options.Integer("preload-connections", 4);
  int64_t timeout_s = options.Integer("timeout-s", 60);
  state.topic = options.String("topic", "bench_firems_" + std::to_string(WallClockMicros()));
  if (state.tasks < 1 || consumers < 1 || preload_connections < 1 || state.max < 1 ||
      state.max > 1000 || state.spread_ms < 0 || lead_ms < 0) {
    throw std::invalid_argument(
        "--tasks, --consumers must be >= 1, --max 1 to 1000, --spread-ms, --lead-ms >= 0");
  }
  int64_t adds_started_ms = WallClockMicros() / 1000;
  // A whole second, so that with --spread-ms 1000 every task is due within one wall-clock second.
  state.first_due_ms = (adds_started_ms + lead_ms + 999) / 1000 * 1000;

  asio::io_context io(1);
  auto preload_started = SteadyClock::now();
  for (int64_t c = 0; c < preload_connections; ++c) {
    asio::co_spawn(io, PullPreloader(state), asio::detached);
  }
  io.run();
  double preload_s = std::chrono::duration<double>(SteadyClock::now() - preload_started).count();
  int64_t preload_finished_ms = WallClockMicros() / 1000;

  int64_t last_due_ms = state.DueMsOf(state.tasks - 1);
  state.started = SteadyClock::now();
  state.last_ack_at = state.started;
  state.give_up_at =
      state.started +
      std::chrono::milliseconds(std::max<int64_t>(0, last_due_ms - preload_finished_ms)) +
      std::chrono::seconds(timeout_s);
  io.restart();
  for (int64_t c = 0; c < consumers; ++c) {
    asio::co_spawn(io, PullConsumer(state), asio::detached);
  }
  io.run();

  uint64_t added = state.received_by_id.size();
  uint64_t missing = added - state.received;
  ReportErrors("fire-ms", "add errors", state.preload_errors, state.first_preload_error);
  ReportErrors("fire-ms", "pull errors", state.pull_errors, state.first_pull_error);
  ReportErrors("fire-ms", "ack errors", state.ack_errors, state.first_ack_error);
  std::printf(
      "{\"scenario\":\"fire-ms\",\"ack_mode\":\"%s\",\"tasks\":%lld,\"spread_ms\":%lld,\"lead_ms\":"
      "%lld,"
      "\"consumers\":%lld,\"max\":%lld,\"wait_ms\":%lld,\"add_tasks_per_s\":%.1f,\"add_s\":%.3f,"
      "\"add_errors\":%llu,\"added_after_due\":%llu,\"first_due_after_adds_ms\":%lld,"
      "\"added\":%llu,\"received\":%llu,\"missing\":%llu,\"duplicates\":%llu,\"unexpected\":%llu,"
      "\"redelivered\":%llu,\"early\":%llu,\"acked\":%llu,\"ack_errors\":%llu,\"pulls\":%llu,"
      "\"empty_pulls\":%llu,\"pull_errors\":%llu,\"min_ms\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
      "\"max_ms\":%.3f,\"last_received_after_last_due_ms\":%.3f,"
      "\"note\":\"lateness = wall time a pull answer was read - due_at_ms of each task in it\"}\n",
      state.batch_ack ? "batch" : "single", static_cast<long long>(state.tasks),
      static_cast<long long>(state.spread_ms), static_cast<long long>(lead_ms),
      static_cast<long long>(consumers), static_cast<long long>(state.max),
      static_cast<long long>(state.wait_ms),
      preload_s > 0 ? static_cast<double>(added) / preload_s : 0.0, preload_s,
      static_cast<unsigned long long>(state.preload_errors),
      static_cast<unsigned long long>(state.added_after_due),
      static_cast<long long>(state.first_due_ms - preload_finished_ms),
      static_cast<unsigned long long>(added), static_cast<unsigned long long>(state.received),
      static_cast<unsigned long long>(missing), static_cast<unsigned long long>(state.duplicates),
      static_cast<unsigned long long>(state.unexpected),
      static_cast<unsigned long long>(state.redelivered),
      static_cast<unsigned long long>(state.early), static_cast<unsigned long long>(state.acked),
      static_cast<unsigned long long>(state.ack_errors),
      static_cast<unsigned long long>(state.pulls),
      static_cast<unsigned long long>(state.empty_pulls),
      static_cast<unsigned long long>(state.pull_errors),
      state.received > 0 ? static_cast<double>(state.min_lateness_us) / 1000.0 : 0.0,
      Millis(state.lateness.ValueAtPercentile(50)), Millis(state.lateness.ValueAtPercentile(99)),
      Millis(state.lateness.max()),
      state.received > 0 ? static_cast<double>(state.last_received_us - last_due_ms * 1000) / 1000.0
                         : 0.0);
  std::fflush(stdout);
  bool valid = state.preload_errors == 0 && added == static_cast<uint64_t>(state.tasks) &&
               missing == 0 && state.duplicates == 0 && state.unexpected == 0 &&
               state.redelivered == 0 && state.early == 0 && state.pull_errors == 0 &&
               state.ack_errors == 0 && state.acked == added;
  return valid ? 0 : 1;
}

// ---- Backlog: many v1 batch adds due hours ahead ------------------------------------------------

struct BacklogState {
  tcp::endpoint endpoint;
  std::string addr;
  int64_t tasks = 0;
  int64_t batch = 1000;
  int64_t next_task = 0;
  uint64_t added = 0;
  uint64_t errors = 0;
  int64_t next_progress = 0;
  std::string first_error;
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
      state.latency.Record(
          std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started)
              .count());
      state.added += static_cast<uint64_t>(count);
      if (static_cast<int64_t>(state.added) >= state.next_progress) {
        double s = std::chrono::duration<double>(SteadyClock::now() - state.started).count();
        std::fprintf(stderr, "loadgen backlog-add: %llu of %lld tasks added, %.0f tasks/s\n",
                     static_cast<unsigned long long>(state.added),
                     static_cast<long long>(state.tasks), static_cast<double>(state.added) / s);
        state.next_progress += std::max<int64_t>(state.tasks / 10, 1);
      }
    } catch (const std::exception& e) {
      ++state.errors;
      if (state.first_error.empty()) state.first_error = Describe(e);
      // Not retried: the run is invalid once a batch failed; stop this connection.
      co_return;
    }
  }
}

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
  if (state.tasks < 1 || state.batch < 1 || state.batch > 1000 || connections < 1 ||
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
  double elapsed_s = std::chrono::duration<double>(SteadyClock::now() - state.started).count();
  ReportErrors("backlog-add", "failed batches", state.errors, state.first_error);
  std::printf(
      "{\"scenario\":\"backlog-add\",\"tasks\":%lld,\"batch\":%lld,\"connections\":%lld,"
      "\"added\":%llu,\"errors\":%llu,\"elapsed_s\":%.3f,\"tasks_per_s\":%.1f,"
      "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
      static_cast<long long>(state.tasks), static_cast<long long>(state.batch),
      static_cast<long long>(connections), static_cast<unsigned long long>(state.added),
      static_cast<unsigned long long>(state.errors), elapsed_s,
      static_cast<double>(state.added) / elapsed_s, Millis(state.latency.ValueAtPercentile(50)),
      Millis(state.latency.ValueAtPercentile(99)), Millis(state.latency.max()));
  std::fflush(stdout);
  return state.errors == 0 && state.added == static_cast<uint64_t>(state.tasks) ? 0 : 1;
}

// ---- Many topics: one callback task per topic
// -----------------------------------------------------

struct TopicsAddState {
  tcp::endpoint endpoint;
  std::string addr;
  std::string url;
  std::string prefix;
  std::string one_topic;  // non-empty: every task goes to this topic (the control run)
  int64_t tasks = 0;
  int64_t first_due_ms = 0;
  int64_t spread_ms = 0;
  int64_t next_task = 0;
  uint64_t errors = 0;
  uint64_t added_after_due = 0;
  std::string first_error;
  std::vector<uint64_t> ids;

  int64_t DueMsOf(int64_t task) const { return first_due_ms + task * spread_ms / tasks; }

  // Same length for every topic name and for the control topic, so the two runs store the
  // same bytes.
  std::string TopicOf(int64_t task) const {
    if (!one_topic.empty()) return one_topic;
    char number[16];
    std::snprintf(number, sizeof number, "%08lld", static_cast<long long>(task));
    return prefix + number;
  }
};

awaitable<void> TopicsAdder(TopicsAddState& state) {
  HttpConnection connection(co_await asio::this_coro::executor, state.endpoint);
  const std::string callback = ",\"callback\":{\"url\":\"" + state.url + "\"}}";
  while (state.next_task < state.tasks) {
    int64_t task = state.next_task++;
    int64_t due_ms = state.DueMsOf(task);
    std::string body = "{\"payload\":\"cb\",\"at_ms\":" + std::to_string(due_ms) + callback;
    try {
      HttpResponse response = co_await connection.RoundTrip(
          PostRequest("/v1/topics/" + state.TopicOf(task) + "/tasks", state.addr, body));
      auto id = RawField(response.body, "id");
      std::optional<uint64_t> parsed = id ? ParsePositiveDecimal(*id) : std::nullopt;
      if (response.status != 201 || !parsed) {
        throw std::runtime_error("HTTP " + std::to_string(response.status) + ": " +
                                 response.body.substr(0, 300));
      }
      state.ids[static_cast<size_t>(task)] = *parsed;
      if (WallClockMicros() / 1000 >= due_ms) ++state.added_after_due;
    } catch (const std::exception& e) {
      ++state.errors;
      if (state.first_error.empty()) state.first_error = Describe(e);
    }
  }
}

// The ids of the adds that succeeded (0 marks a failed one): written one per line to `path`
// when given (the callback-log check reads them), and counted.
uint64_t WriteAddedIds(const std::string& path, const std::vector<uint64_t>& ids) {
  if (!path.empty()) {
    std::ofstream out(path);
    for (uint64_t id : ids) {
      if (id != 0) out << id << '\n';
    }
    if (!out) throw std::runtime_error("cannot write " + path);
  }
  return static_cast<uint64_t>(
      std::count_if(ids.begin(), ids.end(), [](uint64_t id) { return id != 0; }));
}

int RunTopicsAdd(const Options& options) {
  TopicsAddState state;
  state.addr = options.String("addr");
  state.endpoint = ParseEndpoint(state.addr);
  state.url = options.String("url");
  state.tasks = options.Integer("topics");
  state.spread_ms = options.Integer("spread-ms", 2000);
  int64_t lead_ms = options.Integer("lead-ms", 10'000);
  int64_t connections = options.Integer("connections", 64);
  state.prefix = options.String("prefix", "bt");
  state.one_topic = options.String("one-topic", "");
  if (state.tasks < 1 || state.spread_ms < 0 || lead_ms < 0 || connections < 1) {
    throw std::invalid_argument(
        "--topics, --connections must be >= 1, --spread-ms, --lead-ms >= 0");
  }
  if (state.url.find('"') != std::string::npos || state.url.find('\\') != std::string::npos) {
    throw std::invalid_argument("--url must not need JSON escaping");
  }
  int64_t now_ms = WallClockMicros() / 1000;
  state.first_due_ms = (now_ms + lead_ms + 999) / 1000 * 1000;
  state.ids.assign(static_cast<size_t>(state.tasks), 0);
  asio::io_context io(1);
  auto started = SteadyClock::now();
  for (int64_t c = 0; c < connections; ++c) {
    asio::co_spawn(io, TopicsAdder(state), asio::detached);
  }
  io.run();
  double add_s = std::chrono::duration<double>(SteadyClock::now() - started).count();
  int64_t add_finished_ms = WallClockMicros() / 1000;
  uint64_t added = WriteAddedIds(options.String("ids-out", ""), state.ids);
  ReportErrors("topics-add", "failed adds", state.errors, state.first_error);
  std::printf(
      "{\"scenario\":\"topics-add\",\"tasks\":%lld,\"topics\":%lld,\"added\":%llu,"
      "\"errors\":%llu,\"first_due_ms\":%lld,\"last_due_ms\":%lld,\"add_finished_ms\":%lld,"
      "\"add_s\":%.3f,\"add_rps\":%.1f,\"added_after_due\":%llu}\n",
      static_cast<long long>(state.tasks),
      static_cast<long long>(state.one_topic.empty() ? state.tasks : 1),
      static_cast<unsigned long long>(added), static_cast<unsigned long long>(state.errors),
      static_cast<long long>(state.first_due_ms),
      static_cast<long long>(state.DueMsOf(state.tasks - 1)),
      static_cast<long long>(add_finished_ms), add_s, static_cast<double>(added) / add_s,
      static_cast<unsigned long long>(state.added_after_due));
  std::fflush(stdout);
  return state.errors == 0 && added == static_cast<uint64_t>(state.tasks) ? 0 : 1;
}

// ---- beanstalkd reference
// ------------------------------------------------------------------------

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
  uint64_t errors = 0;
  std::string first_error;
  SteadyClock::time_point last_put_at;
  std::unordered_map<uint64_t, bool> reserved_by_id;
  uint64_t reserved = 0;
  uint64_t duplicates = 0;
  uint64_t unexpected = 0;
  uint64_t deleted = 0;
  SteadyClock::time_point last_delete_at;
  LatencyHistogram put_latency;
  LatencyHistogram drain_latency;  // reserve + delete of one job

  void NoteError(std::string what) {
    ++errors;
    if (first_error.empty()) first_error = std::move(what);
  }
};

// The same 16-byte body as the seed adds' content.
constexpr std::string_view kBeanstalkJob = R"({"uid":"111111"})";

awaitable<void> BeanstalkPutter(BeanstalkState& state) {
  BeanstalkConnection connection(co_await asio::this_coro::executor, state.endpoint);
  try {
    co_await connection.Connect();
  } catch (const std::exception& e) {
    state.NoteError(Describe(e));
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
      if (!id || !state.reserved_by_id.emplace(*id, false).second) {
        throw std::runtime_error("put: bad or repeated id: " + line);
      }
      state.last_put_at = SteadyClock::now();
      state.put_latency.Record(
          std::chrono::duration_cast<std::chrono::microseconds>(state.last_put_at - started)
              .count());
      ++state.puts;
    } catch (const std::exception& e) {
      state.NoteError(Describe(e));
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
      auto entry = state.reserved_by_id.find(*id);
      if (entry == state.reserved_by_id.end()) {
        ++state.unexpected;
      } else if (entry->second) {
        ++state.duplicates;
      } else {
        entry->second = true;
        ++state.reserved;
      }
      std::string answer = co_await connection.Command("delete " + std::to_string(*id) + "\r\n");
      if (answer != "DELETED") throw std::runtime_error("delete: " + answer);
      ++state.deleted;
      state.last_delete_at = SteadyClock::now();
      state.drain_latency.Record(
          std::chrono::duration_cast<std::chrono::microseconds>(state.last_delete_at - started)
              .count());
    }
  } catch (const std::exception& e) {
    state.NoteError(Describe(e));
  }
}

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
  double put_s = std::chrono::duration<double>(state.last_put_at - put_started).count();
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
  double drain_s = std::chrono::duration<double>(state.last_delete_at - drain_started).count();
  uint64_t missing = state.puts - state.reserved;
  ReportErrors("beanstalk", "errors", state.errors, state.first_error);
  std::printf(
      "{\"scenario\":\"beanstalk\",\"connections\":%lld,\"delay_s\":%lld,\"puts\":%llu,"
      "\"put_rps\":%.1f,\"put_p50_ms\":%.3f,\"put_p99_ms\":%.3f,\"reserved\":%llu,"
      "\"deleted\":%llu,\"missing\":%llu,\"duplicates\":%llu,\"unexpected\":%llu,"
      "\"errors\":%llu,\"drain_jobs_per_s\":%.1f,\"drain_p50_ms\":%.3f,\"drain_p99_ms\":%.3f,"
      "\"note\":\"drain = reserve-with-timeout 0 + delete per job, closed loop per connection\"}\n",
      static_cast<long long>(connections), static_cast<long long>(state.delay_s),
      static_cast<unsigned long long>(state.puts),
      put_s > 0 ? static_cast<double>(state.puts) / put_s : 0.0,
      Millis(state.put_latency.ValueAtPercentile(50)),
      Millis(state.put_latency.ValueAtPercentile(99)),
      static_cast<unsigned long long>(state.reserved),
      static_cast<unsigned long long>(state.deleted), static_cast<unsigned long long>(missing),
      static_cast<unsigned long long>(state.duplicates),
      static_cast<unsigned long long>(state.unexpected),
      static_cast<unsigned long long>(state.errors),
      drain_s > 0 ? static_cast<double>(state.deleted) / drain_s : 0.0,
      Millis(state.drain_latency.ValueAtPercentile(50)),
      Millis(state.drain_latency.ValueAtPercentile(99)));
  std::fflush(stdout);
  bool valid = state.errors == 0 && state.puts > 0 && missing == 0 && state.duplicates == 0 &&
               state.unexpected == 0 && state.deleted == state.puts;
  return valid ? 0 : 1;
}

// ---- v1 long-poll wake-up scenario ------------------------------------------------------------

// One round: a pull waits (wait_ms) on a topic with nothing in it while another connection adds
// one task with delay_ms; the pull should be answered the moment that task falls due.
struct LongPollRound {
  std::optional<PulledTask> pulled;
  int64_t received_us = 0;
  uint64_t added_id = 0;
  int64_t added_due_ms = 0;
  std::string error;
};

awaitable<void> LongPollWait(HttpConnection& connection, std::string request,
                             LongPollRound& round) {
  try {
    HttpResponse response = co_await connection.RoundTrip(request);
    round.received_us = WallClockMicros();
    auto tasks = response.status == 200 ? ParsePulledTasks(response.body) : std::nullopt;
    if (!tasks) {
      throw std::runtime_error("pull: HTTP " + std::to_string(response.status) + ": " +
                               response.body.substr(0, 300));
    }
    if (tasks->size() > 1) throw std::runtime_error("pull: more tasks than were added");
    if (tasks->empty()) throw std::runtime_error("pull: wait_ms ran out with no task");
    round.pulled = tasks->front();
  } catch (const std::exception& e) {
    if (round.error.empty()) round.error = Describe(e);
  }
}

awaitable<void> LongPollAdd(HttpConnection& connection, std::string request, LongPollRound& round) {
  try {
    HttpResponse response = co_await connection.RoundTrip(request);
    auto id = RawField(response.body, "id");
    auto due = IntegerField(response.body, "due_at_ms");
    std::optional<uint64_t> parsed_id = id ? ParsePositiveDecimal(*id) : std::nullopt;
    if (response.status != 201 || !parsed_id || !due) {
      throw std::runtime_error("add: HTTP " + std::to_string(response.status) + ": " +
                               response.body.substr(0, 300));
    }
    round.added_id = *parsed_id;
    round.added_due_ms = *due;
  } catch (const std::exception& e) {
    if (round.error.empty()) round.error = Describe(e);
  }
}

int RunLongPoll(const Options& options) {
  std::string addr = options.String("addr");
  tcp::endpoint endpoint = ParseEndpoint(addr);
  int64_t rounds = options.Integer("rounds", 200);
  int64_t delay_ms = options.Integer("delay-ms", 200);
  int64_t wait_ms = options.Integer("wait-ms", 10'000);
  std::string topic_prefix =
      options.String("topic", "bench_longpoll_" + std::to_string(WallClockMicros()));
  if (rounds < 1 || delay_ms < 0 || wait_ms <= delay_ms) {
    throw std::invalid_argument("--rounds must be >= 1 and --wait-ms above --delay-ms");
  }

  asio::io_context io(1);
  HttpConnection consumer(io.get_executor(), endpoint);
  HttpConnection producer(io.get_executor(), endpoint);
  LatencyHistogram lateness;
  uint64_t received = 0;
  uint64_t errors = 0;
  uint64_t early = 0;
  uint64_t ack_errors = 0;
  int64_t min_lateness_us = INT64_MAX;
  std::string first_error;
  auto note_error = [&](std::string what) {
    ++errors;
    if (first_error.empty()) first_error = std::move(what);
  };
  for (int64_t r = 0; r < rounds; ++r) {
    // A fresh topic per round: nothing left over from an earlier round can answer the pull.
    std::string topic = topic_prefix + "_" + std::to_string(r);
    std::string pull =
        PostRequest("/v1/topics/" + topic + "/pull", addr,
                    "{\"max\":1,\"wait_ms\":" + std::to_string(wait_ms) + ",\"lease_ms\":60000}");
    std::string add =
        PostRequest("/v1/topics/" + topic + "/tasks", addr,
                    "{\"payload\":\"lp\",\"delay_ms\":" + std::to_string(delay_ms) + "}");
    LongPollRound round;
    io.restart();
    // The pull is sent first; the add follows at once, on its own connection. The task is due
    // delay_ms after the add, long after the pull is waiting.
    asio::co_spawn(io, LongPollWait(consumer, pull, round), asio::detached);
    asio::co_spawn(io, LongPollAdd(producer, add, round), asio::detached);
    io.run();
    if (!round.error.empty()) {
      note_error(round.error);
      continue;
    }
    if (round.pulled->id != round.added_id || round.pulled->due_at_ms != round.added_due_ms) {
      note_error("pulled task " + std::to_string(round.pulled->id) + " due " +
                 std::to_string(round.pulled->due_at_ms) + ", added " +
                 std::to_string(round.added_id) + " due " + std::to_string(round.added_due_ms));
      continue;
    }
    ++received;
    int64_t lateness_us = round.received_us - round.pulled->due_at_ms * 1000;
    if (lateness_us < 0) ++early;
    min_lateness_us = std::min(min_lateness_us, lateness_us);
    lateness.Record(lateness_us);

    // Ack, so the topic ends clean; not part of the measurement.
    io.restart();
    int ack_status = 0;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          try {
            ack_status = (co_await consumer.RoundTrip(AckRequest(addr, *round.pulled))).status;
          } catch (const std::exception&) {
            ack_status = -1;
          }
        },
        asio::detached);
    io.run();
    if (ack_status != 200) ++ack_errors;
  }
  ReportErrors("longpoll", "failed rounds", errors, first_error);
  std::printf(
      "{\"scenario\":\"longpoll\",\"rounds\":%lld,\"delay_ms\":%lld,\"wait_ms\":%lld,"
      "\"received\":%llu,\"errors\":%llu,\"ack_errors\":%llu,\"early\":%llu,\"min_ms\":%.3f,"
      "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
      "\"note\":\"lateness = wall time the pull answer was read - due_at_ms of the task\"}\n",
      static_cast<long long>(rounds), static_cast<long long>(delay_ms),
      static_cast<long long>(wait_ms), static_cast<unsigned long long>(received),
      static_cast<unsigned long long>(errors), static_cast<unsigned long long>(ack_errors),
      static_cast<unsigned long long>(early),
      received > 0 ? static_cast<double>(min_lateness_us) / 1000.0 : 0.0,
      Millis(lateness.ValueAtPercentile(50)), Millis(lateness.ValueAtPercentile(99)),
      Millis(lateness.max()));
  std::fflush(stdout);
  bool valid =
      received == static_cast<uint64_t>(rounds) && errors == 0 && ack_errors == 0 && early == 0;
  return valid ? 0 : 1;
}

// ---- Callback scenarios -----------------------------------------------------------------------

// Adds callback tasks in batches; the receiver (nginx in bench/run.py) logs each call, and
// `callback-log` reads that log back.
struct CallbackAddState {
  tcp::endpoint endpoint;
  std::string addr;
  std::string topic;
  std::string url;
  int64_t tasks = 0;
  int64_t first_due_ms = 0;
  int64_t spread_ms = 0;
  int64_t next_task = 0;
  uint64_t errors = 0;
  uint64_t added_after_due = 0;  // acknowledged after the earliest due time of their batch
  std::string first_error;
  std::vector<uint64_t> ids;  // by task number; 0 when its batch failed

  // Task i is due at first_due_ms + floor(i * spread / tasks): uniform over the spread.
  int64_t DueMsOf(int64_t task) const { return first_due_ms + task * spread_ms / tasks; }
};

awaitable<void> CallbackAdder(CallbackAddState& state) {
  HttpConnection connection(co_await asio::this_coro::executor, state.endpoint);
  const std::string path = "/v1/topics/" + state.topic + "/tasks:batch";
  const std::string callback = ",\"callback\":{\"url\":\"" + state.url + "\"}}";
  while (state.next_task < state.tasks) {
    int64_t first = state.next_task;
    int64_t count = std::min(kPreloadBatch, state.tasks - first);
    state.next_task += count;
    std::string body = R"({"tasks":[)";
    for (int64_t i = first; i < first + count; ++i) {
      if (i > first) body += ',';
      body += "{\"payload\":\"cb\",\"at_ms\":" + std::to_string(state.DueMsOf(i)) + callback;
    }
    body += "]}";
    try {
      HttpResponse response = co_await connection.RoundTrip(PostRequest(path, state.addr, body));
      std::vector<uint64_t> ids = ParseIdArray(response.body);
      if (response.status != 201 || ids.size() != static_cast<size_t>(count)) {
        throw std::runtime_error("HTTP " + std::to_string(response.status) + ": " +
                                 response.body.substr(0, 300));
      }
      std::copy(ids.begin(), ids.end(), state.ids.begin() + first);
      if (WallClockMicros() / 1000 >= state.DueMsOf(first)) {
        state.added_after_due += static_cast<uint64_t>(count);
      }
    } catch (const std::exception& e) {
      ++state.errors;
      if (state.first_error.empty()) state.first_error = Describe(e);
    }
  }
}

int RunCallbackAdd(const Options& options) {
  CallbackAddState state;
  state.addr = options.String("addr");
  state.endpoint = ParseEndpoint(state.addr);
  state.url = options.String("url");
  state.tasks = options.Integer("tasks");
  state.spread_ms = options.Integer("spread-ms", 0);
  int64_t lead_ms = options.Integer("lead-ms", 0);
  int64_t connections = options.Integer("connections", 4);
  state.topic = options.String("topic", "bench_callback_" + std::to_string(WallClockMicros()));
  if (state.tasks < 1 || state.spread_ms < 0 || lead_ms < 0 || connections < 1) {
    throw std::invalid_argument("--tasks, --connections must be >= 1, --spread-ms, --lead-ms >= 0");
  }
  if (state.url.find('"') != std::string::npos || state.url.find('\\') != std::string::npos) {
    throw std::invalid_argument("--url must not need JSON escaping");
  }
  int64_t now_ms = WallClockMicros() / 1000;
  // Lead 0: due now, all at this one instant (at_ms a moment in the past by the time the
  // batches arrive). Otherwise the first whole second at least lead_ms ahead.
  state.first_due_ms = lead_ms == 0 ? now_ms : (now_ms + lead_ms + 999) / 1000 * 1000;
  state.ids.assign(static_cast<size_t>(state.tasks), 0);

  asio::io_context io(1);
  auto started = SteadyClock::now();
  for (int64_t c = 0; c < connections; ++c) {
    asio::co_spawn(io, CallbackAdder(state), asio::detached);
  }
  io.run();
  double add_s = std::chrono::duration<double>(SteadyClock::now() - started).count();
  int64_t add_finished_ms = WallClockMicros() / 1000;

  uint64_t added = WriteAddedIds(options.String("ids-out", ""), state.ids);
  ReportErrors("callback-add", "failed batches", state.errors, state.first_error);
  std::printf(
      "{\"scenario\":\"callback-add\",\"tasks\":%lld,\"added\":%llu,\"errors\":%llu,"
      "\"first_due_ms\":%lld,\"last_due_ms\":%lld,\"add_finished_ms\":%lld,\"add_s\":%.3f,"
      "\"added_after_due\":%llu}\n",
      static_cast<long long>(state.tasks), static_cast<unsigned long long>(added),
      static_cast<unsigned long long>(state.errors), static_cast<long long>(state.first_due_ms),
      static_cast<long long>(state.DueMsOf(state.tasks - 1)),
      static_cast<long long>(add_finished_ms), add_s,
      static_cast<unsigned long long>(state.added_after_due));
  std::fflush(stdout);
  return state.errors == 0 && added == static_cast<uint64_t>(state.tasks) ? 0 : 1;
}

// nginx's $msec, "1795678558.123", as integer milliseconds.
std::optional<int64_t> ParseMsec(std::string_view text) {
  size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || text.size() - dot - 1 != 3) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c == '.') continue;
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

// Reads a receiver log of lines `$msec $http_x_delayq_due_at $http_x_delayq_task_id` and, given
// the added ids, checks each was called exactly once; lateness = $msec - due, at the 1 ms
// resolution of $msec. The values are whole milliseconds and at most a few tens of thousands,
// so the percentiles are exact (nearest rank over the sorted values), not from a histogram.
int RunCallbackLog(const Options& options) {
  std::string log_path = options.String("log");
  std::string ids_path = options.String("ids", "");
  std::unordered_map<uint64_t, uint32_t> calls_by_id;
  bool have_ids = !ids_path.empty();
  if (have_ids) {
    std::ifstream ids(ids_path);
    if (!ids) throw std::runtime_error("cannot read " + ids_path);
    std::string line;
    while (std::getline(ids, line)) {
      if (auto id = ParsePositiveDecimal(line)) calls_by_id.emplace(*id, 0);
    }
  }
  std::ifstream log(log_path);
  if (!log) throw std::runtime_error("cannot read " + log_path);
  std::vector<int64_t> lateness_ms;
  uint64_t lines = 0, malformed = 0, duplicates = 0, unexpected = 0, early = 0;
  int64_t first_log_ms = INT64_MAX, last_log_ms = 0, min_due_ms = INT64_MAX, max_due_ms = 0;
  std::string first_malformed;
  std::string line;
  while (std::getline(log, line)) {
    ++lines;
    std::string_view rest(line);
    std::string_view fields[3];
    size_t count = 0;
    while (!rest.empty() && count < 3) {
      size_t space = rest.find(' ');
      fields[count++] = rest.substr(0, space);
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    }
    auto log_ms = count == 3 ? ParseMsec(fields[0]) : std::nullopt;
    auto due_ms = count == 3 ? ParsePositiveDecimal(fields[1]) : std::nullopt;
    auto id = count == 3 ? ParsePositiveDecimal(fields[2]) : std::nullopt;
    if (!log_ms || !due_ms || !id || !rest.empty()) {
      ++malformed;
      if (first_malformed.empty()) first_malformed = line;
      continue;
    }
    first_log_ms = std::min(first_log_ms, *log_ms);
    last_log_ms = std::max(last_log_ms, *log_ms);
    auto due = static_cast<int64_t>(*due_ms);
    min_due_ms = std::min(min_due_ms, due);
    max_due_ms = std::max(max_due_ms, due);
    int64_t late_ms = *log_ms - due;
    if (late_ms < 0) ++early;
    lateness_ms.push_back(late_ms);
    auto [entry, inserted] = calls_by_id.emplace(*id, 0);
    if (inserted && have_ids) ++unexpected;
    if (++entry->second > 1) ++duplicates;
  }
  uint64_t missing = 0;
  for (const auto& [id, calls] : calls_by_id) missing += calls == 0 ? 1 : 0;
  uint64_t valid_lines = lines - malformed;
  std::sort(lateness_ms.begin(), lateness_ms.end());
  auto percentile = [&](double p) -> long long {
    if (lateness_ms.empty()) return 0;
    auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(lateness_ms.size())));
    return lateness_ms[std::clamp<size_t>(rank, 1, lateness_ms.size()) - 1];
  };
  ReportErrors("callback-log", "malformed lines", malformed, first_malformed);
  std::printf(
      "{\"scenario\":\"callback-log\",\"lines\":%llu,\"malformed\":%llu,\"expected\":%llu,"
      "\"missing\":%llu,\"duplicates\":%llu,\"unexpected\":%llu,\"early\":%llu,"
      "\"first_log_ms\":%lld,\"last_log_ms\":%lld,\"min_due_ms\":%lld,\"max_due_ms\":%lld,"
      "\"min_ms\":%lld,\"p50_ms\":%lld,\"p99_ms\":%lld,\"max_ms\":%lld,"
      "\"note\":\"lateness = receiver log time ($msec, 1 ms resolution) - X-Delayq-Due-At\"}\n",
      static_cast<unsigned long long>(lines), static_cast<unsigned long long>(malformed),
      static_cast<unsigned long long>(have_ids ? calls_by_id.size() - unexpected : 0),
      static_cast<unsigned long long>(missing), static_cast<unsigned long long>(duplicates),
      static_cast<unsigned long long>(unexpected), static_cast<unsigned long long>(early),
      static_cast<long long>(valid_lines > 0 ? first_log_ms : 0),
      static_cast<long long>(last_log_ms), static_cast<long long>(valid_lines > 0 ? min_due_ms : 0),
      static_cast<long long>(max_due_ms), percentile(0), percentile(50), percentile(99),
      percentile(100));
  std::fflush(stdout);
  bool valid = valid_lines > 0 && malformed == 0 && missing == 0 && duplicates == 0 &&
               unexpected == 0 && early == 0;
  return valid ? 0 : 1;
}

void PrintUsage() {
  std::fputs(
      "usage:\n"
      "  delayq_loadgen add  --addr HOST:PORT[,HOST:PORT...] --connections N --duration-s S "
      "[--topic T]\n"
      "                      [--due-offset-s X] [--threads T]\n"
      "  delayq_loadgen fire --addr HOST:PORT [--tasks 50000] [--spread-s 5] [--consumers 4]\n"
      "                      [--topic T] [--add-connections 32] [--lead-s 3] [--timeout-s 60]\n"
      "  delayq_loadgen http --addr HOST:PORT[,...] --connections N --duration-s S [--path /]\n"
      "                      [--threads T]\n"
      "  delayq_loadgen batch --addr HOST:PORT[,...] --connections N --duration-s S [--batch 100]\n"
      "                      [--topic T] [--delay-ms 3600000] [--threads T]\n"
      "  delayq_loadgen pull --addr HOST:PORT [--tasks 100000] [--consumers 4] [--max 100]\n"
      "                      [--wait-ms 500] [--lease-ms 60000] [--preload-connections 4]\n"
      "                      [--topic T] [--timeout-s 60]\n"
      "  delayq_loadgen longpoll --addr HOST:PORT [--rounds 200] [--delay-ms 200]\n"
      "                      [--wait-ms 10000] [--topic PREFIX]\n"
      "  delayq_loadgen callback-add --addr HOST:PORT --tasks N --url URL [--lead-ms 0]\n"
      "                      [--spread-ms 0] [--topic T] [--connections 4] [--ids-out FILE]\n"
      "  delayq_loadgen callback-log --log FILE [--ids FILE]\n"
      "  delayq_loadgen fire-ms --addr HOST:PORT [--tasks 50000] [--spread-ms 5000]\n"
      "                      [--lead-ms 5000] [--consumers 4] [--max 100] [--wait-ms 1000]\n"
      "                      [--lease-ms 60000] [--preload-connections 4] [--topic T]\n"
      "                      [--timeout-s 60]\n"
      "  delayq_loadgen backlog-add --addr HOST:PORT --tasks N [--batch 1000]\n"
      "                      [--connections 64] [--min-delay-ms 3600000] [--spread-ms 14400000]\n"
      "                      [--topic T]\n"
      "  delayq_loadgen topics-add --addr HOST:PORT --topics N --url URL [--lead-ms 10000]\n"
      "                      [--spread-ms 2000] [--connections 64] [--prefix P]\n"
      "                      [--one-topic NAME] [--ids-out FILE]\n"
      "  delayq_loadgen beanstalk --addr HOST:PORT --connections N --duration-s S\n"
      "                      [--delay-s 1] [--max-jobs 0]  (beanstalkd put, then reserve+delete)\n",
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
    if (command == "batch") {
      return RunBatch(
          Options(argc, argv,
                  {"addr", "connections", "duration-s", "batch", "topic", "delay-ms", "threads"}));
    }
    if (command == "pull") {
      return RunPull(Options(argc, argv,
                             {"addr", "tasks", "consumers", "max", "wait-ms", "lease-ms",
                              "preload-connections", "topic", "timeout-s", "ack-mode"}));
    }
    if (command == "longpoll") {
      return RunLongPoll(Options(argc, argv, {"addr", "rounds", "delay-ms", "wait-ms", "topic"}));
    }
    if (command == "callback-add") {
      return RunCallbackAdd(Options(
          argc, argv,
          {"addr", "tasks", "url", "lead-ms", "spread-ms", "topic", "connections", "ids-out"}));
    }
    if (command == "callback-log") {
      return RunCallbackLog(Options(argc, argv, {"log", "ids"}));
    }
    if (command == "fire-ms") {
      return RunFireMs(
          Options(argc, argv,
                  {"addr", "tasks", "spread-ms", "lead-ms", "consumers", "max", "wait-ms",
                   "lease-ms", "preload-connections", "topic", "timeout-s", "ack-mode"}));
    }
    if (command == "backlog-add") {
      return RunBacklogAdd(
          Options(argc, argv,
                  {"addr", "tasks", "batch", "connections", "min-delay-ms", "spread-ms", "topic"}));
    }
    if (command == "topics-add") {
      return RunTopicsAdd(Options(argc, argv,
                                  {"addr", "topics", "url", "lead-ms", "spread-ms", "connections",
                                   "prefix", "one-topic", "ids-out"}));
    }
    if (command == "beanstalk") {
      return RunBeanstalk(
          Options(argc, argv, {"addr", "connections", "duration-s", "delay-s", "max-jobs"}));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "delayq_loadgen %s: %s\n", argv[1], e.what());
    return 2;
  }
  PrintUsage();
  return 2;
}
