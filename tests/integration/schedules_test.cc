// Schedules on the real binary: an every-second schedule fires ten times in ten seconds, in
// order and never early; cron seconds fire at their seconds; a restart across five missed
// occurrences fires what each catch-up policy says, and no occurrence twice.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <ctime>
#include <map>
#include <set>

#include "support/integration.h"

namespace delayq {
namespace {

using namespace delayq::integration;
namespace json = boost::json;

json::value Parse(const std::string& body) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  return ec ? json::value() : value;
}

int64_t Header(const testing::ReceivedCall& call, const std::string& name) {
  auto it = call.headers.find(name);
  return it == call.headers.end() ? -1 : std::stoll(it->second);
}

// Sleeps until the wall clock reads `ms` (positions a stop or a start between occurrences).
void SleepUntil(int64_t ms) {
  int64_t left = ms - WallClockMs();
  if (left <= 0) return;
  struct timespec ts {
    static_cast<time_t>(left / 1000), static_cast<long>(left % 1000) * 1'000'000
  };
  nanosleep(&ts, nullptr);
}

class Schedules : public ::testing::Test {
 protected:
  void Start() {
    server_ = std::make_unique<ServerProcess>(dir_.Sub("data"));
    ASSERT_TRUE(server_->Start()) << server_->last_error();
    client_ = std::make_unique<HttpClient>(server_->address());
  }

  json::object PutSchedule(const std::string& name, json::object body) {
    auto response = client_->Request("PUT", "/v1/schedules/" + name, json::serialize(body));
    EXPECT_EQ(response.status, 201) << response.body;
    json::value answer = Parse(response.body);
    return answer.is_object() ? answer.as_object() : json::object();
  }

  // Due times of every due task of `topic`, taken under a long lease (each task once). Every
  // task must be an occurrence of `schedule`, which has no jitter: due at its occurrence.
  std::multiset<int64_t> PullAll(const std::string& topic, const std::string& schedule) {
    std::multiset<int64_t> due;
    while (true) {
      auto response = client_->Post("/v1/topics/" + topic + "/pull",
                                    R"({"max": 1000, "wait_ms": 0, "lease_ms": 60000})");
      EXPECT_EQ(response.status, 200) << response.body;
      json::value answer = Parse(response.body);
      if (!answer.is_object()) return due;
      const json::array& tasks = answer.at("tasks").as_array();
      if (tasks.empty()) return due;
      for (const json::value& t : tasks) {
        const json::object& item = t.as_object();
        due.insert(item.at("due_at_ms").to_number<int64_t>());
        EXPECT_TRUE(item.contains("schedule") && item.contains("occurrence_ms")) << t;
        if (!item.contains("schedule") || !item.contains("occurrence_ms")) continue;
        EXPECT_EQ(item.at("schedule").as_string(), schedule);
        EXPECT_EQ(item.at("occurrence_ms").to_number<int64_t>(),
                  item.at("due_at_ms").to_number<int64_t>());
      }
    }
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(Schedules, EverySecondFiresTenTimesInTenSecondsInOrderNeverEarly) {
  CallbackReceiver receiver;
  Start();
  int64_t put_at = WallClockMs();
  json::object s = PutSchedule(
      "tick",
      {{"topic", "ticks"},
       {"every_ms", 1000},
       {"task", {{"payload", "tick"}, {"callback", {{"url", receiver.base_url() + "/tick"}}}}}});
  ASSERT_EQ(s.at("next_ms").as_array().size(), 5u);
  int64_t first = s.at("next_ms").as_array()[0].to_number<int64_t>();
  EXPECT_GT(first, put_at);
  ASSERT_TRUE(receiver.WaitForCalls("/tick", 10, std::chrono::seconds(14)));
  std::vector<testing::ReceivedCall> calls = receiver.Calls("/tick");
  int64_t worst = 0;
  for (size_t i = 0; i < 10; ++i) {
    int64_t due = Header(calls[i], "x-delayq-due-at");
    EXPECT_EQ(due, first + static_cast<int64_t>(i) * 1000) << "call " << i << " out of order";
    EXPECT_GE(calls[i].at_ms, due) << "call " << i << " came early";
    EXPECT_EQ(calls[i].body, "tick");
    worst = std::max(worst, calls[i].at_ms - due);
  }
  EXPECT_LT(worst, 500) << "lateness";
  EXPECT_LE(calls[9].at_ms - put_at, 11'000) << "ten fires took longer than ten seconds";
  std::cout << "every-second schedule: 10 fires, worst lateness " << worst << " ms\n";
  // Each fire is an ordinary task that names its schedule and occurrence.
  auto task = client_->Get("/v1/tasks/" + calls[0].headers.at("x-delayq-task-id"));
  json::value t = Parse(task.body);
  EXPECT_EQ(t.at("schedule").as_string(), "tick");
  EXPECT_EQ(t.at("occurrence_ms").to_number<int64_t>(), first);
  EXPECT_EQ(t.at("state").as_string(), "done");
  json::value got = Parse(client_->Get("/v1/schedules/tick").body);
  EXPECT_GE(got.at("last_occurrence_ms").to_number<int64_t>(), first + 9000);
}

TEST_F(Schedules, CronWithSecondsFiresAtItsSeconds) {
  CallbackReceiver receiver;
  Start();
  PutSchedule("even",
              {{"topic", "even"},
               {"cron", "*/2 * * * * *"},
               {"time_zone", "Asia/Shanghai"},
               {"task", {{"payload", "e"}, {"callback", {{"url", receiver.base_url() + "/e"}}}}}});
  ASSERT_TRUE(receiver.WaitForCalls("/e", 3, std::chrono::seconds(10)));
  std::vector<testing::ReceivedCall> calls = receiver.Calls("/e");
  for (size_t i = 0; i < 3; ++i) {
    int64_t due = Header(calls[i], "x-delayq-due-at");
    EXPECT_EQ(due % 2000, 0) << due;
    if (i > 0) {
      EXPECT_EQ(due - Header(calls[i - 1], "x-delayq-due-at"), 2000);
    }
    EXPECT_GE(calls[i].at_ms, due);
    EXPECT_LT(calls[i].at_ms - due, 500);
  }
}

// Killed just after one occurrence, started again just after the fifth missed one.
TEST_F(Schedules, RestartAcrossFiveOccurrencesFollowsEachCatchUpPolicy) {
  Start();
  std::map<std::string, int64_t> first;
  for (const char* policy : {"skip", "latest", "all"}) {
    json::object s = PutSchedule(policy, {{"topic", policy},
                                          {"every_ms", 1000},
                                          {"catch_up", policy},
                                          {"task", {{"payload", policy}}}});
    first[policy] = s.at("next_ms").as_array()[0].to_number<int64_t>();
  }
  const int64_t o1 = first["skip"];
  SleepUntil(o1 + 1300);  // o1 and o1 + 1 s fired; o1 + 2 s is the pending one
  server_->Kill();
  SleepUntil(o1 + 6100);  // o1 + 2 s ... o1 + 6 s missed
  ASSERT_TRUE(server_->Start()) << server_->last_error();
  client_ = std::make_unique<HttpClient>(server_->address());
  SleepUntil(o1 + 8500);  // o1 + 7 s and 8 s fire as usual
  for (const char* policy : {"skip", "latest", "all"}) {
    const int64_t o = first[policy];
    std::multiset<int64_t> due = PullAll(policy, policy);
    std::multiset<int64_t> missed_fired;
    for (int64_t t : due) {
      EXPECT_EQ(due.count(t), 1u) << policy << ": occurrence " << t << " twice";
      EXPECT_EQ((t - o) % 1000, 0) << policy;
      if (t >= o + 2000 && t <= o + 6000) missed_fired.insert(t);
    }
    EXPECT_EQ(due.count(o), 1u) << policy;
    EXPECT_EQ(due.count(o + 1000), 1u) << policy;
    EXPECT_EQ(due.count(o + 7000), 1u) << policy;
    EXPECT_EQ(due.count(o + 8000), 1u) << policy;
    std::multiset<int64_t> want;
    if (std::string(policy) == "latest") want = {o + 6000};
    if (std::string(policy) == "all") want = {o + 2000, o + 3000, o + 4000, o + 5000, o + 6000};
    EXPECT_EQ(missed_fired, want) << policy;
    std::cout << policy << ": " << missed_fired.size() << " of the 5 missed occurrences fired\n";
  }
}

}  // namespace
}  // namespace delayq
