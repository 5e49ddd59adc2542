// Schedules on a shared Redis: three instances step the same 100 every-second schedules for
// 20 s, one of them is SIGKILLed midway, and each schedule still makes exactly one task per
// occurrence, none missing.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <set>

#include "support/integration.h"
#include "support/redis_server.h"

namespace delayq {
namespace {

using namespace delayq::integration;
namespace json = boost::json;

constexpr int kSchedules = 100;
// The kill at half time leaves ten occurrences on each side of it.
constexpr int64_t kRunMs = 20'000;

TEST(RedisSchedules, ThreeInstancesOneKilledMakeEachOccurrenceOnce) {
  TempDir dir;
  testing::RedisServer redis(dir.Sub("redis"));
  ASSERT_TRUE(redis.Start()) << "redis-server did not start";
  std::vector<std::unique_ptr<ServerProcess>> instances;
  for (int i = 0; i < 3; ++i) {
    instances.push_back(std::make_unique<ServerProcess>(
        dir.Sub("i" + std::to_string(i)),
        std::vector<std::string>{"--store", "redis", "--redis-url", redis.url(),
                                 "--redis-poll-interval", "20ms"}));
    ASSERT_TRUE(instances.back()->Start()) << instances.back()->last_error();
  }
  HttpClient admin(instances[0]->address());
  for (int i = 0; i < kSchedules; ++i) {
    std::string name = "beat-" + std::to_string(i);
    json::object body{{"topic", "beats"}, {"every_ms", 1000}, {"task", {{"payload", name}}}};
    auto response = admin.Request("PUT", "/v1/schedules/" + name, json::serialize(body));
    ASSERT_EQ(response.status, 201) << response.body;
  }
  // Consumers pull from the two instances that live; the third only steps schedules.
  std::vector<std::unique_ptr<HttpClient>> pullers;
  pullers.push_back(std::make_unique<HttpClient>(instances[0]->address()));
  pullers.push_back(std::make_unique<HttpClient>(instances[1]->address()));
  std::map<std::pair<std::string, int64_t>, std::set<std::string>> tasks;  // -> task ids
  auto pull = [&](HttpClient& client, int64_t wait_ms) {
    auto response =
        client.Post("/v1/topics/beats/pull", R"({"max": 1000, "lease_ms": 120000, "wait_ms": )" +
                                                 std::to_string(wait_ms) + "}");
    EXPECT_EQ(response.status, 200) << response.body;
    boost::system::error_code ec;
    json::value answer = json::parse(response.body, ec);
    if (ec) return size_t{0};
    const json::array& got = answer.at("tasks").as_array();
    for (const json::value& t : got) {
      std::string name(t.at("payload").as_string());
      tasks[{name, t.at("due_at_ms").to_number<int64_t>()}].insert(
          std::string(t.at("id").as_string()));
    }
    return got.size();
  };
  const int64_t start = WallClockMs();
  bool killed = false;
  for (size_t round = 0; WallClockMs() - start < kRunMs; ++round) {
    if (!killed && WallClockMs() - start >= kRunMs / 2) {
      instances[2]->Kill();
      killed = true;
    }
    pull(*pullers[round % 2], 100);
  }
  // Stop making occurrences (the pending ones are cancelled), then take what is due.
  for (int i = 0; i < kSchedules; ++i) {
    auto response = admin.Request("DELETE", "/v1/schedules/beat-" + std::to_string(i));
    ASSERT_EQ(response.status, 200) << response.body;
  }
  while (pull(*pullers[0], 300) + pull(*pullers[1], 0) > 0) {
  }

  size_t occurrences = 0, duplicated = 0, gaps = 0;
  std::map<std::string, std::vector<int64_t>> by_schedule;
  for (const auto& [key, ids] : tasks) {
    ++occurrences;
    if (ids.size() != 1) ++duplicated;
    by_schedule[key.first].push_back(key.second);
  }
  ASSERT_EQ(by_schedule.size(), static_cast<size_t>(kSchedules));
  for (auto& [name, times] : by_schedule) {
    EXPECT_GE(times.size(), static_cast<size_t>(kRunMs / 1000 - 2)) << name;
    for (size_t i = 1; i < times.size(); ++i) {
      if (times[i] - times[i - 1] != 1000) {
        ++gaps;
        ADD_FAILURE() << name << ": " << times[i - 1] << " then " << times[i];
      }
    }
  }
  EXPECT_EQ(duplicated, 0u);
  EXPECT_EQ(gaps, 0u);
  std::cout << kSchedules << " schedules, 3 instances, one SIGKILLed at " << kRunMs / 2000
            << " s: " << occurrences << " occurrences, " << duplicated
            << " with more than one task, " << gaps << " missing\n";
}

}  // namespace
}  // namespace delayq
