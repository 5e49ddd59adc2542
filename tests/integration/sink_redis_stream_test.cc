// The Redis Streams sink against the real binary and a redis-server of the test's own; what
// delayq appended is read back with redis-cli XRANGE, not with delayq's code.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "support/integration.h"
#include "support/redis_server.h"
#include "support/served.h"

namespace delayq {
namespace {

using namespace delayq::integration;
using testing::RedisServer;
namespace json = boost::json;

struct Entry {
  std::string entry_id;
  std::map<std::string, std::string> fields;
};

struct Added {
  std::string id;
  std::string topic;
  std::string payload;
  int64_t due_at_ms = 0;
};

// XRANGE stream - + as redis-cli prints it when not on a terminal: one line per element
// (the entry id, then field and value lines). Payloads in these tests have no line breaks.
// Every entry has `fields` fields: payload + the four delayq-* fields, + traceparent and
// tracestate for a traced task.
std::vector<Entry> ReadStream(RedisServer& redis, const std::string& stream, int fields = 5) {
  std::istringstream lines(redis.Cli("XRANGE " + stream + " - +"));
  std::vector<Entry> entries;
  std::string line;
  const int kFields = fields;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    Entry e;
    e.entry_id = line;
    for (int i = 0; i < kFields; ++i) {
      std::string name, value;
      if (!std::getline(lines, name) || !std::getline(lines, value)) break;
      e.fields[name] = value;
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

class RedisStreamSink : public ::testing::Test, protected testing::Served {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.Start()); }

  // The server talks to redis_, a member destroyed before the Served base.
  ~RedisStreamSink() override { StopServer(); }

  void Start(std::vector<std::string> flags = {}) {
    StartWithConfig("sinks:\n  redis_stream:\n    url: \"" + redis_.url() + "\"\n",
                    std::move(flags));
  }

  std::vector<Added> AddBatch(const std::string& topic, const std::string& stream, int count,
                              int64_t first_due_ms, int64_t spread_ms) {
    json::array tasks;
    std::vector<Added> added;
    for (int i = 0; i < count; ++i) {
      Added a{"", topic, topic + " payload " + std::to_string(i) + " \"q\" ünï",
              first_due_ms + spread_ms * i / std::max(1, count)};
      tasks.push_back(
          json::object{{"payload", a.payload},
                       {"at_ms", a.due_at_ms},
                       {"sink", json::object{{"redis_stream", json::object{{"stream", stream}}}}}});
      added.push_back(std::move(a));
    }
    auto r = client_->Post("/v1/topics/" + topic + "/tasks:batch",
                           json::serialize(json::object{{"tasks", tasks}}));
    EXPECT_EQ(r.status, 201) << r.body;
    if (r.status != 201) return {};
    json::value answer = json::parse(r.body);
    const json::array& ids = answer.at("ids").as_array();
    for (size_t i = 0; i < added.size(); ++i) added[i].id = std::string(ids[i].as_string());
    return added;
  }

  std::multimap<std::string, Entry> ReadAll(const std::vector<std::string>& streams) {
    std::multimap<std::string, Entry> by_id;
    for (const auto& s : streams) {
      for (Entry& e : ReadStream(redis_, s)) by_id.emplace(e.fields["delayq-task-id"], e);
    }
    return by_id;
  }

  bool WaitAll(const std::vector<Added>& added, const std::vector<std::string>& streams,
               std::chrono::milliseconds timeout, std::multimap<std::string, Entry>* out) {
    return WaitFor(
        [&] {
          *out = ReadAll(streams);
          for (const Added& a : added) {
            if (out->count(a.id) == 0) return false;
          }
          return true;
        },
        timeout);
  }

  // The count of `state` in the topic's stats (GET /v1/topics/{topic}).
  int64_t Count(const std::string& topic, const std::string& state) {
    auto r = client_->Get("/v1/topics/" + topic);
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("counts")) return -1;
    return v.at("counts").at(state).to_number<int64_t>();
  }

  double Metric(const std::string& series) {
    std::string text = client_->Get("/metrics").body;
    size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
  }

  RedisServer redis_{dir_.Sub("redis")};
};

// delayq-due-at-ms is the due time of the delivery: the added one on a first attempt, the
// retry's on a later one (here: after the delivering lease of a killed server ran out).
void ExpectEntryOf(const Added& a, const Entry& e) {
  EXPECT_EQ(e.fields.at("payload"), a.payload);
  EXPECT_EQ(e.fields.at("delayq-task-id"), a.id);
  EXPECT_EQ(e.fields.at("delayq-topic"), a.topic);
  ASSERT_EQ(e.fields.count("delayq-attempt"), 1u);
  if (e.fields.at("delayq-attempt") == "1") {
    EXPECT_EQ(e.fields.at("delayq-due-at-ms"), std::to_string(a.due_at_ms));
  } else {
    EXPECT_GT(std::stoll(e.fields.at("delayq-due-at-ms")), a.due_at_ms);
  }
}

TEST_F(RedisStreamSink, ATracedTaskCarriesItsTraceContextAsStreamFields) {
  Start();
  const std::string parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const std::string state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
  auto r = client_->Request("POST", "/v1/topics/traced/tasks",
                            R"({"payload":"p","sink":{"redis_stream":{"stream":"traced_s"}}})",
                            {{"traceparent", parent}, {"tracestate", state}});
  ASSERT_EQ(r.status, 201) << r.body;
  std::string id(json::parse(r.body).at("id").as_string());
  std::vector<Entry> entries;
  ASSERT_TRUE(WaitFor(
      [&] {
        entries = ReadStream(redis_, "traced_s", 7);
        return !entries.empty();
      },
      std::chrono::seconds(10)));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].fields["delayq-task-id"], id);
  EXPECT_EQ(entries[0].fields["payload"], "p");
  EXPECT_EQ(entries[0].fields["traceparent"], parent);
  EXPECT_EQ(entries[0].fields["tracestate"], state);
}

TEST_F(RedisStreamSink, ThousandTasksOnFourTopicsAreAppendedOnceEach) {
  Start();
  std::vector<std::string> streams = {"s_orders", "s_rewards", "s_reminders", "s_closes"};
  int64_t first_due = WallClockMs() + 500;
  std::vector<Added> all;
  for (int t = 0; t < 4; ++t) {
    auto added = AddBatch("stream_t" + std::to_string(t), streams[t], 250, first_due, 1500);
    ASSERT_EQ(added.size(), 250u);
    all.insert(all.end(), added.begin(), added.end());
  }
  std::multimap<std::string, Entry> read;
  ASSERT_TRUE(WaitAll(all, streams, std::chrono::seconds(30), &read)) << read.size();
  EXPECT_EQ(read.size(), 1000u);
  int64_t max_lateness = 0;
  for (const Added& a : all) {
    ASSERT_EQ(read.count(a.id), 1u);
    const Entry& e = read.find(a.id)->second;
    ExpectEntryOf(a, e);
    EXPECT_EQ(e.fields.at("delayq-attempt"), "1");
    // The entry id's first part is Redis' own clock at the XADD (ms).
    int64_t appended_ms = std::stoll(e.entry_id.substr(0, e.entry_id.find('-')));
    EXPECT_GE(appended_ms, a.due_at_ms) << "appended before its due time: " << a.id;
    max_lateness = std::max(max_lateness, appended_ms - a.due_at_ms);
  }
  std::cout << "1000 tasks in 4 streams; largest append lateness " << max_lateness << " ms\n";
  EXPECT_TRUE(
      WaitFor([&] { return Metric("delayq_sink_produced_total{sink=\"redis_stream\"}") == 1000; },
              std::chrono::seconds(5)));
}

TEST_F(RedisStreamSink, SigkillWithAppendsInFlightLosesNoAcknowledgedTask) {
  Start({"--callbacks-timeout", "1s"});
  std::vector<Added> added;
  for (int round = 0; round < 5; ++round) {
    auto batch = AddBatch("stream_crash", "s_crash", 200, WallClockMs() + 50 * round, 300);
    ASSERT_EQ(batch.size(), 200u);
    added.insert(added.end(), batch.begin(), batch.end());
  }
  // Once the first entries are in, Redis is stopped (SIGSTOP) so that the XADDs sent next
  // stay in flight, and delayq is killed with them unanswered.
  ASSERT_TRUE(
      WaitFor([&] { return !ReadStream(redis_, "s_crash").empty(); }, std::chrono::seconds(10)));
  redis_.Pause();
  ASSERT_TRUE(WaitFor([&] { return Metric("delayq_sink_in_flight{sink=\"redis_stream\"}") > 0; },
                      std::chrono::seconds(10)));
  double in_flight = Metric("delayq_sink_in_flight{sink=\"redis_stream\"}");
  server_->Kill();
  redis_.Resume();
  size_t before = ReadStream(redis_, "s_crash").size();
  ASSERT_TRUE(server_->Start()) << server_->last_error();
  client_ = std::make_unique<HttpClient>(server_->address());
  std::multimap<std::string, Entry> read;
  ASSERT_TRUE(WaitAll(added, {"s_crash"}, std::chrono::seconds(60), &read))
      << read.size() << " entries; not every acknowledged task is in the stream";
  // Duplicates are known once every task is done: a task whose entry was appended but whose
  // outcome died with the server is appended again when its delivering lease runs out.
  ASSERT_TRUE(
      WaitFor([&] { return Count("stream_crash", "done") == 1000; }, std::chrono::seconds(60)));
  read = ReadAll({"s_crash"});
  std::cout << "SIGKILL with " << in_flight << " appends in flight, " << before
            << " of 1000 in the stream: after the restart all 1000 acknowledged tasks are in "
            << "the stream, " << read.size() - added.size() << " duplicates (at-least-once)\n";
  for (const Added& a : added) {
    auto [from, to] = read.equal_range(a.id);
    for (auto it = from; it != to; ++it) ExpectEntryOf(a, it->second);
  }
}

TEST_F(RedisStreamSink, MaxlenTrimsApproximatelyAndRedisDownIsRetried) {
  std::string path = dir_.Sub("delayq.yaml");
  std::ofstream(path) << "sinks:\n  redis_stream:\n    url: \"" << redis_.url()
                      << "\"\n    maxlen: 100\n";
  server_ = std::make_unique<ServerProcess>(
      dir_.Sub("data"), std::vector<std::string>{"--config", path, "--callbacks-retry-initial",
                                                 "100ms", "--callbacks-retry-max", "300ms"});
  ASSERT_TRUE(server_->Start()) << server_->last_error();
  client_ = std::make_unique<HttpClient>(server_->address());
  auto added = AddBatch("stream_trim", "s_trim", 1000, WallClockMs(), 0);
  ASSERT_EQ(added.size(), 1000u);
  ASSERT_TRUE(
      WaitFor([&] { return Metric("delayq_sink_produced_total{sink=\"redis_stream\"}") == 1000; },
              std::chrono::seconds(30)));
  size_t length = std::stoul(redis_.Cli("XLEN s_trim"));
  std::cout << "1000 appends with maxlen ~100: XLEN " << length << "\n";
  EXPECT_LT(length, 1000u);
  EXPECT_GE(length, 100u);

  redis_.Stop();
  auto later = AddBatch("stream_trim", "s_after", 5, WallClockMs(), 0);
  ASSERT_EQ(later.size(), 5u);
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = client_->Get("/readyz");
        return r.body.find("\"redis_stream\":{\"status\":\"unavailable\"") != std::string::npos;
      },
      std::chrono::seconds(10)))
      << client_->Get("/readyz").body;
  ASSERT_TRUE(redis_.Start());
  std::multimap<std::string, Entry> read;
  ASSERT_TRUE(WaitAll(later, {"s_after"}, std::chrono::seconds(30), &read));
}

}  // namespace
}  // namespace delayq
