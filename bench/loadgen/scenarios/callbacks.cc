// Callbacks: `callback-add` adds v1 callback tasks in batches; the receiver (nginx in
// bench/run.py) logs each call, and `callback-log` reads that log back.

#include <algorithm>
#include <boost/asio.hpp>
#include <cmath>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "../clock.h"
#include "../http_connection.h"
#include "../ids_file.h"
#include "../json_scan.h"
#include "../ledger.h"
#include "../report.h"
#include "../scenarios.h"
#include "../v1.h"

namespace loadgen {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

struct CallbackAddState {
  tcp::endpoint endpoint;
  std::string addr;
  std::string topic;
  std::string url;
  int64_t tasks = 0;
  int64_t first_due_ms = 0;
  int64_t spread_ms = 0;
  int64_t next_task = 0;
  ErrorTally errors;
  uint64_t added_after_due = 0;  // acknowledged after the earliest due time of their batch
  std::vector<uint64_t> ids;     // by task number; 0 when its batch failed

  // Task i is due at first_due_ms + floor(i * spread / tasks): uniform over the spread.
  int64_t DueMsOf(int64_t task) const { return first_due_ms + task * spread_ms / tasks; }
};

awaitable<void> CallbackAdder(CallbackAddState& state) {
  HttpConnection connection(co_await asio::this_coro::executor, state.endpoint);
  const std::string path = "/v1/topics/" + state.topic + "/tasks:batch";
  const std::string callback = ",\"callback\":{\"url\":\"" + state.url + "\"}}";
  while (state.next_task < state.tasks) {
    int64_t first = state.next_task;
    int64_t count = std::min(kMaxBatch, state.tasks - first);
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
      state.errors.Note(Describe(e));
    }
  }
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

}  // namespace

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
  double add_s = SecondsBetween(started, SteadyClock::now());
  int64_t add_finished_ms = WallClockMicros() / 1000;

  uint64_t added = WriteAddedIds(options.String("ids-out", ""), state.ids);
  Report report("callback-add");
  report.Set("tasks", state.tasks)
      .Set("added", added)
      .Errors("errors", "failed batches", state.errors)
      .Set("first_due_ms", state.first_due_ms)
      .Set("last_due_ms", state.DueMsOf(state.tasks - 1))
      .Set("add_finished_ms", add_finished_ms)
      .Set("add_s", add_s)
      .Set("added_after_due", state.added_after_due);
  return report.Require(state.errors.count == 0 && added == static_cast<uint64_t>(state.tasks))
      .Print();
}

// Reads a receiver log of lines `$msec $http_x_delayq_due_at $http_x_delayq_task_id` and, given
// the added ids, checks each was called exactly once; lateness = $msec - due, at the 1 ms
// resolution of $msec. The values are whole milliseconds and at most a few tens of thousands,
// so the percentiles are exact (nearest rank over the sorted values), not from a histogram.
int RunCallbackLog(const Options& options) {
  std::string ids_path = options.String("ids", "");
  Ledger ledger(/*every_id_added=*/!ids_path.empty());
  if (!ids_path.empty()) {
    for (uint64_t id : ReadIds(ids_path)) ledger.Add(id);
  }
  std::string log_path = options.String("log");
  std::ifstream log(log_path);
  if (!log) throw std::runtime_error("cannot read " + log_path);
  std::vector<int64_t> lateness_ms;
  uint64_t lines = 0, early = 0;
  ErrorTally malformed;
  int64_t first_log_ms = INT64_MAX, last_log_ms = 0, min_due_ms = INT64_MAX, max_due_ms = 0;
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
      malformed.Note(line);
      continue;
    }
    first_log_ms = std::min(first_log_ms, *log_ms);
    last_log_ms = std::max(last_log_ms, *log_ms);
    auto due = static_cast<int64_t>(*due_ms);
    min_due_ms = std::min(min_due_ms, due);
    max_due_ms = std::max(max_due_ms, due);
    // Every call counts, a repeated one too: each is a call the receiver saw at that time.
    int64_t late_ms = *log_ms - due;
    if (late_ms < 0) ++early;
    lateness_ms.push_back(late_ms);
    ledger.Receive(*id);
  }
  uint64_t valid_lines = lines - malformed.count;
  std::sort(lateness_ms.begin(), lateness_ms.end());
  auto percentile = [&](double p) -> int64_t {
    if (lateness_ms.empty()) return 0;
    auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(lateness_ms.size())));
    return lateness_ms[std::clamp<size_t>(rank, 1, lateness_ms.size()) - 1];
  };
  Report report("callback-log");
  report.Set("lines", lines)
      .Errors("malformed", "malformed lines", malformed)
      .Set("expected", ids_path.empty() ? uint64_t{0} : ledger.added())
      .Set("missing", ledger.missing())
      .Set("duplicates", ledger.duplicates())
      .Set("unexpected", ledger.unexpected())
      .Set("early", early)
      .Set("first_log_ms", valid_lines > 0 ? first_log_ms : 0)
      .Set("last_log_ms", last_log_ms)
      .Set("min_due_ms", valid_lines > 0 ? min_due_ms : 0)
      .Set("max_due_ms", max_due_ms)
      .Set("min_ms", percentile(0))
      .Set("p50_ms", percentile(50))
      .Set("p99_ms", percentile(99))
      .Set("max_ms", percentile(100))
      .Set("note", "lateness = receiver log time ($msec, 1 ms resolution) - X-Delayq-Due-At");
  return report
      .Require(valid_lines > 0 && malformed.count == 0 && ledger.missing() == 0 &&
               ledger.duplicates() == 0 && ledger.unexpected() == 0 && early == 0)
      .Print();
}

}  // namespace loadgen
