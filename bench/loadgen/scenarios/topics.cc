// Many topics: one v1 callback task in each of N topics (or, as the control, all in one topic),
// due within a spread; the receiver logs each call and callback-log reads that log back.

#include <algorithm>
#include <boost/asio.hpp>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "../clock.h"
#include "../http_connection.h"
#include "../ids_file.h"
#include "../json_scan.h"
#include "../report.h"
#include "../scenarios.h"

namespace loadgen {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

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
  ErrorTally errors;
  uint64_t added_after_due = 0;
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
      state.errors.Note(Describe(e));
    }
  }
}

}  // namespace

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
  double add_s = SecondsBetween(started, SteadyClock::now());
  int64_t add_finished_ms = WallClockMicros() / 1000;
  uint64_t added = WriteAddedIds(options.String("ids-out", ""), state.ids);
  Report report("topics-add");
  report.Set("tasks", state.tasks)
      .Set("topics", state.one_topic.empty() ? state.tasks : int64_t{1})
      .Set("added", added)
      .Errors("errors", "failed adds", state.errors)
      .Set("first_due_ms", state.first_due_ms)
      .Set("last_due_ms", state.DueMsOf(state.tasks - 1))
      .Set("add_finished_ms", add_finished_ms)
      .Set("add_s", add_s)
      .Set("add_rps", static_cast<double>(added) / add_s, 1)
      .Set("added_after_due", state.added_after_due);
  return report.Require(state.errors.count == 0 && added == static_cast<uint64_t>(state.tasks))
      .Print();
}

}  // namespace loadgen
