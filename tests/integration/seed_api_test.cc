// The seed API against the real binary, including the curl examples its clients use, run
// verbatim through the curl command.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "support/http_client.h"
#include "support/integration.h"
#include "support/served.h"
#include "support/server_process.h"
#include "support/temp_dir.h"
#include "support/test_util.h"

namespace delayq {
namespace {

using namespace delayq::integration;
namespace json = boost::json;

class SeedApi : public ::testing::Test, protected testing::Served {
 protected:
  void SetUp() override { StartServer({}); }

  json::object PostJson(const std::string& target, const std::string& body) {
    auto response = client_->Post(target, body);
    EXPECT_TRUE(response.ok());
    return json::parse(response.body).as_object();
  }
};

TEST_F(SeedApi, SpecExamplesWorkVerbatimWithCurlFormEncoding) {
  std::string base = "http://" + server_->address();
  // As a seed client sends it: curl -d (application/x-www-form-urlencoded).
  std::string added = RunCommand(
      R"(curl -s -d '{"topic": "order_timeout", "timing_moment": 1565700615, "content": "{\"uid\":\"111111\"}"}' )" +
      base + "/delay/task/add");
  json::object add = json::parse(added).as_object();
  EXPECT_EQ(add.at("dm_error").as_int64(), 0) << added;
  EXPECT_EQ(add.at("error_msg").as_string(), "操作成功");
  ASSERT_TRUE(add.at("task_id").is_int64() || add.at("task_id").is_uint64())
      << "task_id must be a JSON number: " << added;
  uint64_t id = add.at("task_id").to_number<uint64_t>();
  EXPECT_GT(id, 0u);

  // timing_moment 1565700615 is in the past: due at once.
  std::string pulled =
      RunCommand(R"(curl -s -d '{"topic": "order_timeout"}' )" + base + "/delay/task/pull");
  json::object pull = json::parse(pulled).as_object();
  EXPECT_EQ(pull.at("dm_error").as_int64(), 0) << pulled;
  EXPECT_EQ(pull.at("error_msg").as_string(), "操作成功");
  EXPECT_EQ(pull.at("task_id").to_number<uint64_t>(), id);
  EXPECT_EQ(pull.at("content").as_string(), R"({"uid":"111111"})");

  // Consumed: nothing due any more.
  json::object empty = json::parse(RunCommand(R"(curl -s -d '{"topic": "order_timeout"}' )" + base +
                                              "/delay/task/pull"))
                           .as_object();
  EXPECT_EQ(empty.at("dm_error").as_int64(), 0);
  EXPECT_EQ(empty.at("task_id").to_number<int64_t>(), 0);
  EXPECT_EQ(empty.at("content").as_string(), "");
}

TEST_F(SeedApi, PullByTaskIdFromTheSpecExample) {
  std::string base = "http://" + server_->address();
  json::object add =
      PostJson("/delay/task/add", R"({"topic":"order_timeout","timing_moment":1,"content":"x"})");
  uint64_t id = add.at("task_id").to_number<uint64_t>();
  std::string pulled = RunCommand(R"(curl -s -d '{"topic": "order_timeout", "task_id": )" +
                                  std::to_string(id) + "}' " + base + "/delay/task/pull");
  json::object pull = json::parse(pulled).as_object();
  EXPECT_EQ(pull.at("dm_error").as_int64(), 0) << pulled;
  EXPECT_EQ(pull.at("task_id").to_number<uint64_t>(), id);
  EXPECT_EQ(pull.at("content").as_string(), "x");
  // Already consumed: dm_error 2, HTTP 404.
  auto again = client_->Post("/delay/task/pull",
                             R"({"topic":"order_timeout","task_id":)" + std::to_string(id) + "}");
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(json::parse(again.body).at("dm_error").as_int64(), 2);
}

TEST_F(SeedApi, ATaskDueInAboutOneAndAHalfSecondsIsPulledOnlyOnceDue) {
  int64_t due_s = (WallClockMs() + 1500 + 999) / 1000;  // 1.5 to 2.5 s from now
  int64_t due_ms = due_s * 1000;
  json::object add =
      PostJson("/delay/task/add", R"({"topic":"soon","timing_moment":)" + std::to_string(due_s) +
                                      R"(,"content":"{\"n\":1}"})");
  ASSERT_EQ(add.at("dm_error").as_int64(), 0);
  uint64_t id = add.at("task_id").to_number<uint64_t>();

  // By id before it is due: dm_error 3 (not due yet), HTTP 409.
  auto early =
      client_->Post("/delay/task/pull", R"({"topic":"soon","task_id":)" + std::to_string(id) + "}");
  EXPECT_EQ(early.status, 409);
  EXPECT_EQ(json::parse(early.body).at("dm_error").as_int64(), 3);

  int64_t got_at = 0;
  while (WallClockMs() < due_ms + 5000) {
    int64_t before = WallClockMs();
    json::object pull = PostJson("/delay/task/pull", R"({"topic":"soon"})");
    ASSERT_EQ(pull.at("dm_error").as_int64(), 0);
    if (pull.at("task_id").to_number<uint64_t>() != 0) {
      EXPECT_EQ(pull.at("task_id").to_number<uint64_t>(), id);
      EXPECT_EQ(pull.at("content").as_string(), R"({"n":1})");
      got_at = before;
      break;
    }
    // Not returned: it must not be due yet (by our clock, with the request's start time).
    EXPECT_LT(before, due_ms + 1000) << "task overdue but not returned";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_NE(got_at, 0) << "task never became pullable";
  // Returned only once due (the request left after due - its round trip) ...
  EXPECT_GE(WallClockMs(), due_ms);
  // ... and promptly: loose bound for a loaded CI machine; real figures in BENCHMARKS.md.
  EXPECT_LT(got_at - due_ms, 1000);
}

TEST_F(SeedApi, HealthAndReadiness) {
  auto health = client_->Get("/healthz");
  EXPECT_EQ(health.status, 200);
  auto ready = client_->Get("/readyz");
  EXPECT_EQ(ready.status, 200);
  auto metrics = client_->Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("delayq_tasks_added_total"), std::string::npos);
}

TEST_F(SeedApi, GracefulStopKeepsTasksAndExitsZero) {
  int64_t future_s = WallClockMs() / 1000 + 3600;
  json::object add =
      PostJson("/delay/task/add", R"({"topic":"keep","timing_moment":)" + std::to_string(future_s) +
                                      R"(,"content":"later"})");
  uint64_t id = add.at("task_id").to_number<uint64_t>();
  json::object now_task =
      PostJson("/delay/task/add", R"({"topic":"keep","timing_moment":1,"content":"now"})");
  uint64_t now_id = now_task.at("task_id").to_number<uint64_t>();
  EXPECT_EQ(server_->Terminate(), 0) << server_->Log();

  ASSERT_TRUE(server_->Start()) << server_->last_error();
  client_ = std::make_unique<HttpClient>(server_->address());
  // Still stored and still scheduled: by id it is "not due yet", not "unknown".
  auto early =
      client_->Post("/delay/task/pull", R"({"topic":"keep","task_id":)" + std::to_string(id) + "}");
  EXPECT_EQ(json::parse(early.body).at("dm_error").as_int64(), 3) << early.body;
  json::object pull = PostJson("/delay/task/pull", R"({"topic":"keep"})");
  EXPECT_EQ(pull.at("task_id").to_number<uint64_t>(), now_id);
  EXPECT_EQ(pull.at("content").as_string(), "now");
}

TEST_F(SeedApi, FinishedTasksArePurgedAfterRetention) {
  server_->Kill();
  server_ = std::make_unique<ServerProcess>(
      dir_.Sub("data"), std::vector<std::string>{"--retention", "1s", "--purge-interval", "50ms"});
  ASSERT_TRUE(server_->Start()) << server_->last_error();
  client_ = std::make_unique<HttpClient>(server_->address());
  json::object add =
      PostJson("/delay/task/add", R"({"topic":"short","timing_moment":1,"content":"x"})");
  uint64_t id = add.at("task_id").to_number<uint64_t>();
  ASSERT_EQ(
      PostJson("/delay/task/pull", R"({"topic":"short"})").at("task_id").to_number<uint64_t>(), id);
  std::string by_id = R"({"topic":"short","task_id":)" + std::to_string(id) + "}";
  // Within retention the record is kept: "already consumed".
  auto kept = client_->Post("/delay/task/pull", by_id);
  EXPECT_NE(kept.body.find("already consumed"), std::string::npos) << kept.body;
  // After retention it is gone: "not found".
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return client_->Post("/delay/task/pull", by_id).body.find("not found") != std::string::npos;
      },
      std::chrono::seconds(10)));
  auto metrics = client_->Get("/metrics");
  EXPECT_NE(metrics.body.find("delayq_tasks_purged_total 1"), std::string::npos);
}

}  // namespace
}  // namespace delayq
