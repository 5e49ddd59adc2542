// Bad input to the schedule API: each case answers 4xx with a message naming the field, and
// nothing is stored (the list stays empty, no task is made).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/integration.h"

namespace delayq {
namespace {

using namespace delayq::integration;
namespace json = boost::json;

struct BadRequest {
  std::string name;
  std::string method;
  std::string target;
  std::string body;
  int status;
  std::string message;  // a part of the answer naming the field and why
};

// A valid body plus `fields`.
std::string With(const std::string& fields) {
  return R"({"topic": "reports", "cron": "0 20 * * *", "task": {"payload": "p"})" +
         (fields.empty() ? "" : ", " + fields) + "}";
}

std::vector<BadRequest> Cases() {
  const std::string put = "/v1/schedules/nightly";
  const std::string task = R"("topic": "reports", "every_ms": 1000, "task": )";
  return {
      {"not_json", "PUT", put, "{nope", 400, "JSON"},
      {"no_topic", "PUT", put, R"({"cron": "@daily", "task": {"payload": 1}})", 400, "topic"},
      {"bad_topic", "PUT", put, R"({"topic": "a b", "cron": "@daily", "task": {"payload": 1}})",
       400, "topic"},
      {"no_timing", "PUT", put, R"({"topic": "t", "task": {"payload": 1}})", 400,
       "cron, every_ms: one of them is required"},
      {"both_timings", "PUT", put, With(R"("every_ms": 1000)"), 400, "cron, every_ms: give one"},
      {"cron_fields", "PUT", put, R"({"topic": "t", "cron": "* * *", "task": {"payload": 1}})", 400,
       "cron: expected 5 fields"},
      {"cron_minute", "PUT", put, R"({"topic": "t", "cron": "61 * * * *", "task": {"payload": 1}})",
       400, "cron: minute field \"61\": 61 is out of range 0-59"},
      {"cron_hour", "PUT", put, R"({"topic": "t", "cron": "0 24 * * *", "task": {"payload": 1}})",
       400, "cron: hour field"},
      {"cron_month", "PUT", put, R"({"topic": "t", "cron": "0 0 1 13 *", "task": {"payload": 1}})",
       400, "cron: month field"},
      {"cron_weekday", "PUT", put,
       R"({"topic": "t", "cron": "0 0 * * MONDAY", "task": {"payload": 1}})", 400,
       "cron: day-of-week field"},
      {"cron_step", "PUT", put, R"({"topic": "t", "cron": "*/0 * * * *", "task": {"payload": 1}})",
       400, "step \"0\" is not a positive number"},
      {"cron_range", "PUT", put, R"({"topic": "t", "cron": "0 9-5 * * *", "task": {"payload": 1}})",
       400, "range 9-5 runs backwards"},
      {"cron_macro", "PUT", put, R"({"topic": "t", "cron": "@often", "task": {"payload": 1}})", 400,
       "cron: unknown macro"},
      {"cron_type", "PUT", put, R"({"topic": "t", "cron": 5, "task": {"payload": 1}})", 400,
       "cron"},
      {"every_zero", "PUT", put, R"({"topic": "t", "every_ms": 0, "task": {"payload": 1}})", 400,
       "every_ms"},
      {"every_negative", "PUT", put, R"({"topic": "t", "every_ms": -5, "task": {"payload": 1}})",
       400, "every_ms must be a positive number"},
      {"every_too_small", "PUT", put, R"({"topic": "t", "every_ms": 999, "task": {"payload": 1}})",
       400, "every_ms: must be from 1000"},
      {"every_type", "PUT", put, R"({"topic": "t", "every_ms": "1s", "task": {"payload": 1}})", 400,
       "every_ms"},
      {"unknown_zone", "PUT", put, With(R"("time_zone": "Mars/Olympus_Mons")"), 400,
       "time_zone: \"Mars/Olympus_Mons\" is not an IANA time zone"},
      {"zone_type", "PUT", put, With(R"("time_zone": 8)"), 400, "time_zone"},
      {"end_before_start", "PUT", put,
       With(R"("start_at_ms": 1900000000000, "end_at_ms": 1800000000000)"), 400,
       "end_at_ms: must not be before start_at_ms"},
      {"start_negative", "PUT", put, With(R"("start_at_ms": -1)"), 400, "start_at_ms"},
      {"jitter_negative", "PUT", put, With(R"("jitter_ms": -1)"), 400, "jitter_ms"},
      {"catch_up_unknown", "PUT", put, With(R"("catch_up": "sometimes")"), 400,
       "catch_up must be \"skip\", \"latest\" or \"all\""},
      {"window_small", "PUT", put, With(R"("catch_up": "all", "catch_up_window_ms": 5)"), 400,
       "catch_up_window_ms"},
      {"paused_type", "PUT", put, With(R"("paused": "yes")"), 400, "paused"},
      {"no_task", "PUT", put, R"({"topic": "t", "cron": "@daily"})", 400, "task is required"},
      {"no_payload", "PUT", put, "{" + task + R"({"max_attempts": 3}})", 400,
       "task.payload is required"},
      {"payload_too_large", "PUT", put,
       "{" + task + R"({"payload": ")" + std::string(2048, 'x') + R"("}})", 413, "task.payload"},
      {"task_dedup_key", "PUT", put, "{" + task + R"({"payload": 1, "dedup_key": "k"}})", 400,
       "task.dedup_key is not allowed"},
      {"task_due_time", "PUT", put, "{" + task + R"({"payload": 1, "delay_ms": 5}})", 400,
       "task.delay_ms is not allowed"},
      {"max_attempts", "PUT", put, "{" + task + R"({"payload": 1, "max_attempts": 0}})", 400,
       "task.max_attempts"},
      {"callback_and_sink", "PUT", put,
       "{" + task +
           R"({"payload": 1, "callback": {"url": "http://127.0.0.1:1/"}, "sink": {"redis_stream": {"stream": "s"}}}})",
       400, "task.sink"},
      {"bad_name", "PUT", "/v1/schedules/a*b", With(""), 400, "schedule name in the path"},
      {"long_name", "PUT", "/v1/schedules/" + std::string(129, 'n'), With(""), 400,
       "schedule name in the path"},
      {"list_limit", "GET", "/v1/schedules?limit=0", "", 400, "limit must be a number from 1"},
      {"list_topic", "GET", "/v1/schedules?topic=a*b", "", 400, "topic (query parameter)"},
      {"list_cursor", "GET", "/v1/schedules?cursor=a/b", "", 400, "cursor"},
      {"unknown_get", "GET", "/v1/schedules/none", "", 404, "schedule none not found"},
      {"unknown_pause", "POST", "/v1/schedules/none/pause", "", 404, "schedule none not found"},
      {"unknown_action", "POST", "/v1/schedules/none/explode", "", 404,
       "no route for POST /v1/schedules/none/explode"},
      {"wrong_method", "PATCH", put, With(""), 405, "GET, PUT, DELETE"},
      {"reserved_dedup_key", "POST", "/v1/topics/reports/tasks",
       R"({"payload": 1, "dedup_key": "schedule/nightly/1/5"})", 400, "dedup_key must not start"},
  };
}

class BadScheduleRequest : public ::testing::TestWithParam<BadRequest> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new ServerProcess(dir_->Sub("data"), {"--limits-max-payload-bytes", "1024"});
    ASSERT_TRUE(server_->Start()) << server_->last_error();
  }
  static void TearDownTestSuite() {
    // Nothing of the bad requests was stored.
    HttpClient client(server_->address());
    auto list = client.Get("/v1/schedules");
    EXPECT_EQ(list.status, 200);
    EXPECT_NE(list.body.find("\"schedules\":[]"), std::string::npos) << list.body;
    auto topics = client.Get("/v1/topics");
    EXPECT_EQ(topics.body.find("reports"), std::string::npos) << topics.body;
    delete server_;
    delete dir_;
  }
  static TempDir* dir_;
  static ServerProcess* server_;
};

TempDir* BadScheduleRequest::dir_ = nullptr;
ServerProcess* BadScheduleRequest::server_ = nullptr;

TEST_P(BadScheduleRequest, AnswersTheFieldAndStoresNothing) {
  const BadRequest& c = GetParam();
  HttpClient client(server_->address());
  auto response = client.Request(c.method, c.target, c.body);
  EXPECT_EQ(response.status, c.status) << response.body;
  boost::system::error_code ec;
  json::value answer = json::parse(response.body, ec);
  ASSERT_FALSE(ec) << response.body;
  std::string message(answer.at("error_msg").as_string());
  EXPECT_NE(message.find(c.message), std::string::npos)
      << "answer: " << message << "\nexpected to contain: " << c.message;
}

INSTANTIATE_TEST_SUITE_P(Table, BadScheduleRequest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace delayq
