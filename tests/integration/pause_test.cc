// Pausing a topic on the real binary: with 1,000 due pull tasks and 100 callback tasks paused,
// nothing is delivered while another topic's task, due 5 s after all of them, is; the pause
// survives a SIGKILL and restart; the resume delivers every task once, oldest due first. In
// Redis mode a pause through one instance stops the deliveries of another.

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <set>
#include <thread>

#include "support/integration.h"
#include "support/redis_server.h"

namespace delayq {
namespace {

using namespace delayq::integration;
namespace json = boost::json;

constexpr int kPullTasks = 1000;
constexpr int kCallbackTasks = 100;
// The held tasks stay due this long (undelivered) before the probe task falls due.
constexpr int64_t kWindowMs = 5000;

json::value Parse(const std::string& body) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  return ec ? json::value() : value;
}

// One call at a time on the held topic, so that the receiver sees the claim order.
std::string WriteConfig(TempDir& dir) {
  std::string path = dir.Sub("delayq.yaml");
  std::ofstream(path) << "topics:\n  held:\n    max_in_flight: 1\n";
  return path;
}

json::object Change(HttpClient& client, const std::string& topic, const std::string& verb) {
  HttpResponse response = client.Post("/v1/topics/" + topic + "/" + verb, "");
  EXPECT_EQ(response.status, 200) << response.body;
  json::value answer = Parse(response.body);
  return answer.is_object() ? answer.as_object() : json::object();
}

json::object Topic(HttpClient& client, const std::string& topic) {
  HttpResponse response = client.Get("/v1/topics/" + topic);
  EXPECT_EQ(response.status, 200) << response.body;
  json::value answer = Parse(response.body);
  return answer.is_object() ? answer.as_object() : json::object();
}

int64_t Count(const json::object& topic, const char* state) {
  const json::value* counts = topic.if_contains("counts");
  if (counts == nullptr || !counts->is_object()) return -1;
  const json::value* n = counts->as_object().if_contains(state);
  return n == nullptr ? -1 : n->to_number<int64_t>();
}

// The held topic's tasks, each list in due order: pull tasks due at base + 2i, callback tasks
// at base + 20i + 1 (interleaved with them).
struct Held {
  std::vector<std::string> pulls;
  std::vector<std::string> calls;
  int64_t last_due_ms = 0;
};

std::vector<std::string> AddBatch(HttpClient& client, json::array tasks) {
  HttpResponse response = client.Post("/v1/topics/held/tasks:batch",
                                      json::serialize(json::object{{"tasks", std::move(tasks)}}));
  EXPECT_EQ(response.status, 201) << response.body;
  std::vector<std::string> ids;
  json::value answer = Parse(response.body);
  if (!answer.is_object()) return ids;
  for (const json::value& id : answer.at("ids").as_array()) ids.emplace_back(id.as_string());
  return ids;
}

Held AddHeld(HttpClient& client, int64_t base_ms, const std::string& callback_url) {
  Held held;
  json::array pulls;
  for (int i = 0; i < kPullTasks; ++i) {
    pulls.push_back(json::object{{"payload", json::object{{"n", i}}}, {"at_ms", base_ms + 2 * i}});
  }
  held.pulls = AddBatch(client, std::move(pulls));
  json::array calls;
  for (int i = 0; i < kCallbackTasks; ++i) {
    calls.push_back(json::object{{"payload", json::object{{"n", i}}},
                                 {"at_ms", base_ms + 20 * i + 1},
                                 {"callback", json::object{{"url", callback_url}}}});
  }
  held.calls = AddBatch(client, std::move(calls));
  held.last_due_ms = base_ms + 2 * (kPullTasks - 1);
  return held;
}

// A callback task of another topic due at `at_ms`: once it is called, the engine has run its
// due scan past every held task due before it.
void AddProbe(HttpClient& client, int64_t at_ms, const std::string& url) {
  HttpResponse response = client.Post(
      "/v1/topics/probe/tasks",
      json::serialize(json::object{
          {"payload", "probe"}, {"at_ms", at_ms}, {"callback", json::object{{"url", url}}}}));
  EXPECT_EQ(response.status, 201) << response.body;
}

std::vector<std::string> PulledIds(const std::string& body) {
  std::vector<std::string> ids;
  json::value answer = Parse(body);
  if (!answer.is_object()) return ids;
  for (const json::value& t : answer.at("tasks").as_array())
    ids.emplace_back(t.at("id").as_string());
  return ids;
}

// Nothing of the held topic has gone out: no call, no pull answered, every task scheduled.
void ExpectNothingDelivered(HttpClient& client, const CallbackReceiver& receiver) {
  EXPECT_TRUE(receiver.Calls("/held").empty()) << receiver.Calls("/held").size() << " calls";
  HttpResponse pulled = client.Post("/v1/topics/held/pull", R"({"max": 1000})");
  EXPECT_EQ(pulled.status, 200) << pulled.body;
  EXPECT_TRUE(PulledIds(pulled.body).empty()) << pulled.body;
  HttpResponse seed = client.Post("/delay/task/pull", R"({"topic": "held"})");
  EXPECT_NE(seed.body.find(R"("task_id":0)"), std::string::npos) << seed.body;
  json::object topic = Topic(client, "held");
  EXPECT_EQ(topic["paused"], json::value(true));
  EXPECT_EQ(Count(topic, "scheduled"), kPullTasks + kCallbackTasks);
  EXPECT_EQ(Count(topic, "leased") + Count(topic, "delivering") + Count(topic, "done"), 0);
}

// Pulls every held pull task (each under a long lease); their ids in the order handed out.
std::vector<std::string> PullAll(HttpClient& client, std::vector<std::string> got = {}) {
  while (got.size() < static_cast<size_t>(kPullTasks)) {
    HttpResponse response = client.Post("/v1/topics/held/pull",
                                        R"({"max": 1000, "wait_ms": 2000, "lease_ms": 600000})");
    EXPECT_EQ(response.status, 200) << response.body;
    json::value answer = Parse(response.body);
    if (!answer.is_object() || answer.at("tasks").as_array().empty()) break;
    for (const json::value& t : answer.at("tasks").as_array()) {
      got.emplace_back(t.at("id").as_string());
    }
  }
  return got;
}

// The callbacks in arrival order, as the index in their payload.
std::vector<int64_t> CallOrder(const CallbackReceiver& receiver) {
  std::vector<int64_t> order;
  for (const auto& call : receiver.Calls("/held")) {
    json::value body = Parse(call.body);
    order.push_back(body.is_object() ? body.at("n").to_number<int64_t>() : -1);
  }
  return order;
}

// After a resume: every pull task handed out once in due order (the first of them maybe to a
// long poll woken by the resume), every callback made once, in due order when one instance
// makes them (`calls_ordered`; several instances claim side by side).
void ExpectAllDeliveredOnceOldestFirst(HttpClient& client, CallbackReceiver& receiver,
                                       const Held& held, std::vector<std::string> woken,
                                       bool calls_ordered) {
  EXPECT_EQ(PullAll(client, std::move(woken)), held.pulls);
  ASSERT_TRUE(receiver.WaitForCalls("/held", kCallbackTasks, std::chrono::seconds(60)))
      << receiver.Calls("/held").size() << " of " << kCallbackTasks << " calls";
  // Done once each: the topic holds them done, none delivering, none due again.
  EXPECT_TRUE(WaitFor([&] { return Count(Topic(client, "held"), "done") == kCallbackTasks; },
                      std::chrono::seconds(10)));
  std::vector<int64_t> expected;
  for (int i = 0; i < kCallbackTasks; ++i) expected.push_back(i);
  std::vector<int64_t> order = CallOrder(receiver);
  if (!calls_ordered) std::sort(order.begin(), order.end());
  EXPECT_EQ(order, expected);
  json::object topic = Topic(client, "held");
  EXPECT_EQ(topic["paused"], json::value(false));
  EXPECT_EQ(Count(topic, "leased"), kPullTasks);
  EXPECT_EQ(Count(topic, "scheduled") + Count(topic, "delivering"), 0);
}

TEST(TopicPause, NothingIsDeliveredWhilePausedAcrossARestartThenAllOnceOldestFirst) {
  CallbackReceiver receiver;
  TempDir dir;
  ServerProcess server(dir.Sub("data"), {"--config", WriteConfig(dir)});
  ASSERT_TRUE(server.Start()) << server.last_error();
  HttpClient client(server.address());

  json::object paused = Change(client, "held", "pause");
  EXPECT_EQ(paused["paused"], json::value(true));
  EXPECT_GT(paused["paused_at_ms"].to_number<int64_t>(), 0);
  int64_t base = WallClockMs() + 500;
  Held held = AddHeld(client, base, receiver.base_url() + "/held");
  ASSERT_EQ(held.pulls.size(), static_cast<size_t>(kPullTasks));
  ASSERT_EQ(held.calls.size(), static_cast<size_t>(kCallbackTasks));
  AddProbe(client, held.last_due_ms + kWindowMs, receiver.base_url() + "/probe");
  ASSERT_TRUE(receiver.WaitForCalls("/probe", 1, std::chrono::seconds(30)));
  ExpectNothingDelivered(client, receiver);
  HttpResponse metrics = client.Get("/metrics");
  EXPECT_NE(metrics.body.find("delayq_topic_paused{topic=\"held\"} 1\n"), std::string::npos);
  EXPECT_EQ(metrics.body.find("delayq_topic_paused{topic=\"probe\"}"), std::string::npos);

  // Killed and started again: still paused, and still nothing goes out once the engine has
  // run (another probe, due now, is called).
  server.Kill();
  ASSERT_TRUE(server.Start()) << server.last_error();
  HttpClient restarted(server.address());
  AddProbe(restarted, WallClockMs(), receiver.base_url() + "/probe");
  ASSERT_TRUE(receiver.WaitForCalls("/probe", 2, std::chrono::seconds(30)));
  ExpectNothingDelivered(restarted, receiver);

  // A long poll waiting on the paused topic is answered by the resume.
  std::string woken_body;
  std::thread poll([&] {
    HttpClient waiting(server.address());
    woken_body =
        waiting
            .Post("/v1/topics/held/pull", R"({"max": 1000, "wait_ms": 20000, "lease_ms": 600000})")
            .body;
  });
  EXPECT_TRUE(WaitFor(
      [&] {
        return restarted.Get("/metrics").body.find("delayq_pulls_waiting 1\n") != std::string::npos;
      },
      std::chrono::seconds(10)));
  json::object resumed = Change(restarted, "held", "resume");
  EXPECT_EQ(resumed["paused"], json::value(false));
  poll.join();
  std::vector<std::string> woken = PulledIds(woken_body);
  EXPECT_FALSE(woken.empty()) << woken_body;
  ExpectAllDeliveredOnceOldestFirst(restarted, receiver, held, std::move(woken), true);
}

// Two instances on one Redis: paused through A, B hands out nothing (its own probe pull,
// due after every held task, is answered); resumed through A, B delivers everything.
TEST(TopicPauseRedis, APauseThroughOneInstanceStopsAnother) {
  CallbackReceiver receiver;
  TempDir dir;
  testing::RedisServer redis(dir.Sub("redis"));
  ASSERT_TRUE(redis.Start());
  std::vector<std::string> args{
      "--config",  WriteConfig(dir),        "--store", "redis", "--redis-url",
      redis.url(), "--redis-poll-interval", "20ms"};
  ServerProcess a(dir.Sub("a"), args);
  ServerProcess b(dir.Sub("b"), args);
  ASSERT_TRUE(a.Start()) << a.last_error();
  ASSERT_TRUE(b.Start()) << b.last_error();
  HttpClient to_a(a.address());
  HttpClient to_b(b.address());

  Change(to_a, "held", "pause");
  EXPECT_EQ(Topic(to_b, "held")["paused"], json::value(true)) << "B reads the same flag";
  int64_t base = WallClockMs() + 500;
  Held held = AddHeld(to_a, base, receiver.base_url() + "/held");
  ASSERT_EQ(held.pulls.size(), static_cast<size_t>(kPullTasks));
  AddProbe(to_a, held.last_due_ms + kWindowMs, receiver.base_url() + "/probe");
  // B's own claim path runs past the held tasks' due times: its long poll on another topic
  // gets a task due after all of them.
  HttpResponse added = to_a.Post(
      "/v1/topics/probe-pull/tasks",
      R"({"payload": "p", "at_ms": )" + std::to_string(held.last_due_ms + kWindowMs) + "}");
  ASSERT_EQ(added.status, 201) << added.body;
  HttpResponse probe = to_b.Post("/v1/topics/probe-pull/pull", R"({"wait_ms": 20000})");
  ASSERT_EQ(PulledIds(probe.body).size(), 1u) << probe.body;
  ASSERT_TRUE(receiver.WaitForCalls("/probe", 1, std::chrono::seconds(30)));
  ExpectNothingDelivered(to_b, receiver);
  ExpectNothingDelivered(to_a, receiver);
  EXPECT_NE(to_b.Get("/metrics").body.find("delayq_topic_paused{topic=\"held\"} 1\n"),
            std::string::npos);

  Change(to_a, "held", "resume");
  ExpectAllDeliveredOnceOldestFirst(to_b, receiver, held, {}, false);
}

}  // namespace
}  // namespace delayq
