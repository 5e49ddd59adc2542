// Listing a topic's tasks and the due horizon on the real binary, with the embedded store and
// with Redis: pages in due order through a few thousand tasks while more are added, every bad
// parameter refused naming it, and horizon counts that match tasks added at known due times.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support/integration.h"
#include "support/redis_server.h"
#include "support/served.h"
#include "support/test_util.h"

namespace delayq {
namespace {

using namespace delayq::integration;
namespace json = boost::json;

constexpr int64_t kMinute = 60'000;

class Listing : public testing::Served, public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "redis") {
      redis_ = std::make_unique<testing::RedisServer>(dir_.Sub("redis"));
      ASSERT_TRUE(redis_->Start());
      StartServer({"--store", "redis", "--redis-url", redis_->url()});
    } else {
      StartServer();
    }
  }

  // Adds tasks due at `due_ms` (each) in batches; returns their ids.
  std::vector<std::string> AddAt(const std::string& topic, const std::vector<int64_t>& due_ms) {
    std::vector<std::string> ids;
    for (size_t i = 0; i < due_ms.size(); i += 500) {
      json::array tasks;
      for (size_t j = i; j < std::min(due_ms.size(), i + 500); ++j) {
        tasks.push_back(json::object{{"payload", "p"}, {"at_ms", due_ms[j]}});
      }
      int status = 0;
      json::value answer = CallJson("POST", "/v1/topics/" + topic + "/tasks:batch",
                                    json::serialize(json::object{{"tasks", tasks}}), &status);
      EXPECT_EQ(status, 201) << answer;
      if (!answer.is_object()) continue;
      for (const json::value& id : answer.at("ids").as_array()) ids.emplace_back(id.as_string());
    }
    return ids;
  }

  json::object Get(const std::string& target, int expect_status = 200) {
    int status = 0;
    json::value answer = CallJson("GET", target, "", &status);
    EXPECT_EQ(status, expect_status) << target << ": " << answer;
    return answer.is_object() ? answer.as_object() : json::object();
  }

  std::unique_ptr<testing::RedisServer> redis_;
};

TEST_P(Listing, PagesThroughThousandsInDueOrderWhileTasksAreAdded) {
  int64_t base = WallClockMs() + 3'600'000;
  std::vector<int64_t> due;
  for (int i = 0; i < 3000; ++i) due.push_back(base + (i * 7919) % 100'000);
  std::vector<std::string> ids = AddAt("orders", due);
  ASSERT_EQ(ids.size(), 3000u);
  AddAt("other", {base + 5});
  std::set<std::string> original(ids.begin(), ids.end());

  std::string cursor;
  std::vector<std::string> seen;
  int64_t last_due = 0;
  for (int page = 0; page < 1000; ++page) {
    json::object answer = Get("/v1/topics/orders/tasks?state=scheduled&limit=250" +
                              (cursor.empty() ? "" : "&cursor=" + cursor));
    for (const json::value& task : answer.at("tasks").as_array()) {
      int64_t task_due = task.at("due_at_ms").as_int64();
      EXPECT_GE(task_due, last_due);
      last_due = task_due;
      EXPECT_EQ(task.at("topic").as_string(), "orders");
      EXPECT_EQ(task.at("state").as_string(), "scheduled");
      seen.emplace_back(task.at("id").as_string());
    }
    if (answer.at("next_cursor").is_null()) break;
    cursor = std::string(answer.at("next_cursor").as_string());
    AddAt("orders", {base - 1'000'000, base + 200'000});  // behind and ahead of the cursor
  }
  std::vector<std::string> from_start;
  for (const std::string& id : seen) {
    if (original.contains(id)) from_start.push_back(id);
  }
  EXPECT_EQ(from_start.size(), 3000u) << "each task present from the start, listed once";
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size());

  // A range: from_ms inclusive, to_ms exclusive.
  json::object ranged = Get("/v1/topics/orders/tasks?from_ms=" + std::to_string(base) +
                            "&to_ms=" + std::to_string(base + 700) + "&limit=1000");
  for (const json::value& task : ranged.at("tasks").as_array()) {
    EXPECT_GE(task.at("due_at_ms").as_int64(), base);
    EXPECT_LT(task.at("due_at_ms").as_int64(), base + 700);
  }
  size_t expected = 0;
  for (int64_t d : due) expected += d < base + 700;
  EXPECT_EQ(ranged.at("tasks").as_array().size(), expected);
  EXPECT_TRUE(ranged.at("next_cursor").is_null());
}

TEST_P(Listing, DueAndDeadStatesAndTheTaskObjectAsGetGivesIt) {
  int64_t now = WallClockMs();
  std::vector<std::string> ids = AddAt("mixed", {now - 1000, now + 600'000});
  json::object due = Get("/v1/topics/mixed/tasks?state=due");
  ASSERT_EQ(due.at("tasks").as_array().size(), 1u);
  json::object listed = due.at("tasks").as_array()[0].as_object();
  EXPECT_EQ(listed.at("id").as_string(), ids[0]);
  json::object got = Get("/v1/tasks/" + ids[0]);
  EXPECT_EQ(listed.at("payload"), got.at("payload"));
  EXPECT_EQ(listed.at("due_at_ms"), got.at("due_at_ms"));
  EXPECT_EQ(listed.at("state"), got.at("state"));
  json::object dead = Get("/v1/topics/mixed/tasks?state=dead");
  EXPECT_TRUE(dead.at("tasks").as_array().empty());
  EXPECT_TRUE(dead.at("next_cursor").is_null());
}

TEST_P(Listing, BadParametersAreRefusedNamingThem) {
  const std::string list = "/v1/topics/orders/tasks?";
  for (const auto& [query, words] : std::vector<std::pair<std::string, std::string>>{
           {"state=leased", "state must be one of scheduled, due, dead"},
           {"state=", ""},
           {"limit=0", "limit must be a number from 1 to 1000"},
           {"limit=1001", "limit must be a number from 1 to 1000"},
           {"limit=ten", "limit"},
           {"from_ms=-1", "from_ms must be unix milliseconds"},
           {"to_ms=soon", "to_ms must be unix milliseconds"},
           {"from_ms=200&to_ms=100", "to_ms must be greater than from_ms"},
           {"cursor=abc", "cursor must be the next_cursor of a previous answer"},
           {"cursor=s12_x", "cursor must be the next_cursor"},
           {"state=dead&cursor=s1_2",
            "cursor must be the next_cursor of a previous answer for "
            "state=dead"},
       }) {
    if (words.empty()) continue;  // an empty state is the default
    json::object answer = Get(list + query, 400);
    EXPECT_NE(json::serialize(answer).find(words), std::string::npos) << query << ": " << answer;
  }
  json::object bucket = Get("/v1/horizon?bucket=day", 400);
  EXPECT_NE(json::serialize(bucket).find("bucket must be minute"), std::string::npos) << bucket;
  Get("/v1/topics/orders/horizon?bucket=week", 400);
  Get("/v1/topics/a%20b/tasks", 400);
}

TEST_P(Listing, TheHorizonMatchesTasksAddedAtKnownDueTimes) {
  // Due half a minute into each minute, so that the server's clock reading a few seconds
  // later still puts each in the bucket meant.
  int64_t t0 = WallClockMs();
  std::map<int, int> per_minute{{0, 3}, {1, 1}, {5, 4}, {59, 2}};
  std::vector<int64_t> due;
  for (const auto& [minute, n] : per_minute) {
    for (int i = 0; i < n; ++i) due.push_back(t0 + minute * kMinute + 30'000);
  }
  due.push_back(t0 - 5000);                          // overdue
  due.push_back(t0 + 3 * 3'600'000 + 30 * kMinute);  // hour 3
  AddAt("soon", due);
  AddAt("elsewhere", {t0 + 5 * kMinute + 30'000});

  json::object topic = Get("/v1/topics/soon/horizon?bucket=minute");
  const json::array& buckets = topic.at("buckets").as_array();
  ASSERT_EQ(buckets.size(), 60u);
  int64_t start = topic.at("start_ms").as_int64();
  EXPECT_LT(start - t0, 30'000) << "the test relies on the call coming within 30 s";
  for (int i = 0; i < 60; ++i) {
    const json::object& b = buckets[i].as_object();
    EXPECT_EQ(b.at("start_ms").as_int64(), start + i * kMinute);
    EXPECT_EQ(b.at("count").as_int64(), per_minute.contains(i) ? per_minute[i] : 0) << i;
    EXPECT_TRUE(b.at("exact").as_bool());
  }
  EXPECT_EQ(topic.at("overdue").at("count").as_int64(), 1);
  EXPECT_TRUE(topic.at("exact").as_bool());

  json::object all = Get("/v1/horizon?bucket=minute");
  EXPECT_EQ(all.at("buckets").as_array()[5].at("count").as_int64(), 5);
  json::object hours = Get("/v1/topics/soon/horizon?bucket=hour");
  ASSERT_EQ(hours.at("buckets").as_array().size(), 168u);
  EXPECT_EQ(hours.at("buckets").as_array()[0].at("count").as_int64(), 10);
  EXPECT_EQ(hours.at("buckets").as_array()[3].at("count").as_int64(), 1);
  EXPECT_EQ(hours.at("bucket_ms").as_int64(), 3'600'000);
}

INSTANTIATE_TEST_SUITE_P(Stores, Listing, ::testing::Values("rocksdb", "redis"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace delayq
