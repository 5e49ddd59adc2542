// Callback delivery against the real binary and real HTTP receivers.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "support/callback_receiver.h"
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

// The documented receiver-side check (docs/API.md): hex HMAC-SHA256 of "timestamp.body".
std::string ExpectedSignature(const std::string& key, const std::string& timestamp,
                              const std::string& body) {
  std::string message = timestamp + "." + body;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  std::string hex = "v1=";
  char byte[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

class Callbacks : public ::testing::Test, protected testing::Served {
 protected:
  // Starts delayq with `yaml` as its config file plus `flags`.
  void Start(const std::string& yaml, std::vector<std::string> flags = {}) {
    StartWithConfig(yaml, std::move(flags));
  }

  json::value Call(std::string_view method, const std::string& target, const std::string& body,
                   int* status = nullptr) {
    return CallJson(method, target, body, status);
  }

  std::string AddCallback(const std::string& topic, const std::string& url,
                          const std::string& extra = "") {
    int status = 0;
    json::value r =
        Call("POST", "/v1/topics/" + topic + "/tasks",
             R"({"payload":{"n":1},"callback":{"url":")" + url + R"("})" + extra + "}", &status);
    EXPECT_EQ(status, 201) << json::serialize(r);
    return status == 201 ? std::string(r.at("id").as_string()) : "";
  }

  std::string State(const std::string& id) {
    return std::string(Call("GET", "/v1/tasks/" + id, "").at("state").as_string());
  }

  ~Callbacks() override { StopServer(); }  // before receiver_, which it talks to

  CallbackReceiver receiver_;
};

TEST_F(Callbacks, SeedV2ExampleIsDeliveredVerbatimOnTime) {
  Start("services:\n  other.server: [\"" + receiver_.base_url() + "\"]\n");
  int64_t moment = WallClockMs() / 1000 + 2;
  // The seed's v2 example, sent as the seed's clients send it (curl -d).
  std::string content =
      R"({"uid":"111111","sn":"other.server","url":"/xxxx/callback","msg_type":"gift"})";
  std::string escaped;
  for (char c : content) escaped += c == '"' ? std::string("\\\"") : std::string(1, c);
  std::string out = RunCommand("curl -s -d '{\"topic\":\"xxxx_push\",\"content\":\"" + escaped +
                               "\",\"timing_moment\":" + std::to_string(moment) + "}' http://" +
                               server_->address() + "/delay/task/add");
  json::value added = json::parse(out);
  ASSERT_EQ(added.at("dm_error").as_int64(), 0) << out;
  uint64_t id = added.at("task_id").to_number<uint64_t>();

  ASSERT_TRUE(receiver_.WaitForCalls("/xxxx/callback", 1, std::chrono::seconds(10)));
  auto call = receiver_.Calls("/xxxx/callback").front();
  EXPECT_EQ(call.method, "POST");
  EXPECT_EQ(call.body, content);  // exactly the content string
  EXPECT_EQ(call.headers["content-type"], "application/json");
  EXPECT_EQ(call.headers["x-delayq-task-id"], std::to_string(id));
  EXPECT_EQ(call.headers["x-delayq-topic"], "xxxx_push");
  EXPECT_EQ(call.headers["x-delayq-attempt"], "1");
  EXPECT_EQ(call.headers["x-delayq-due-at"], std::to_string(moment * 1000));
  int64_t lateness = call.at_ms - moment * 1000;
  EXPECT_GE(lateness, 0);
  EXPECT_LE(lateness, 100) << "callback arrived " << lateness << " ms after due";
  std::cout << "seed v2 callback lateness: " << lateness << " ms\n";
  EXPECT_TRUE(testing::WaitFor([&] { return State(std::to_string(id)) == "done"; },
                               std::chrono::seconds(5)));
}

TEST_F(Callbacks, FailingTwiceThenSucceedingTakesThreeCallsWithGrowingGaps) {
  Start("{}\n", {"--callbacks-retry-initial", "200ms", "--callbacks-retry-multiplier", "2"});
  receiver_.SetStatuses("/flaky", {500, 502, 200});
  std::string id = AddCallback("retry", receiver_.base_url() + "/flaky");
  ASSERT_TRUE(receiver_.WaitForCalls("/flaky", 3, std::chrono::seconds(10)));
  auto calls = receiver_.Calls("/flaky");
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(calls[i].headers["x-delayq-attempt"], std::to_string(i + 1));
  }
  int64_t first_gap = calls[1].at_ms - calls[0].at_ms;
  int64_t second_gap = calls[2].at_ms - calls[1].at_ms;
  std::cout << "retry gaps: " << first_gap << " ms, " << second_gap << " ms\n";
  EXPECT_GE(first_gap, 100);   // 200 ms with jitter: 100..200
  EXPECT_GE(second_gap, 200);  // 400 ms with jitter: 200..400
  EXPECT_GE(second_gap, first_gap);
  EXPECT_TRUE(testing::WaitFor([&] { return State(id) == "done"; }, std::chrono::seconds(5)));
  // Done means no more calls. A fourth attempt would be due at most 800 ms after the third
  // (the next gap with jitter); a task of the same topic due 2 s from now comes after it
  // in the topic's lane, which hands out tasks in due order. Once that call has arrived, a
  // fourth one would have too.
  receiver_.SetStatuses("/after", {200});
  AddCallback("retry", receiver_.base_url() + "/after", R"(,"delay_ms":2000)");
  ASSERT_TRUE(receiver_.WaitForCalls("/after", 1, std::chrono::seconds(10)));
  EXPECT_EQ(receiver_.Calls("/flaky").size(), 3u);
}

TEST_F(Callbacks, AlwaysFailingBecomesDeadWithItsErrorAndRedriveDeliversAgain) {
  Start("{}\n", {"--callbacks-retry-initial", "50ms"});
  receiver_.SetStatuses("/down", {503});
  std::string id = AddCallback("dlq", receiver_.base_url() + "/down", R"(,"max_attempts":3)");
  ASSERT_TRUE(testing::WaitFor([&] { return State(id) == "dead"; }, std::chrono::seconds(10)));
  json::value task = Call("GET", "/v1/tasks/" + id, "");
  EXPECT_EQ(task.at("attempts").as_int64(), 3);
  std::string last_error(task.at("last_error").as_string());
  EXPECT_NE(last_error.find("HTTP 503"), std::string::npos) << last_error;
  EXPECT_EQ(receiver_.Calls("/down").size(), 3u);
  json::value dead = Call("GET", "/v1/topics/dlq/dead", "");
  ASSERT_EQ(dead.at("tasks").as_array().size(), 1u);

  receiver_.SetStatuses("/down", {200});
  int status = 0;
  Call("POST", "/v1/tasks/" + id + "/redrive", "", &status);
  ASSERT_EQ(status, 200);
  ASSERT_TRUE(receiver_.WaitForCalls("/down", 4, std::chrono::seconds(5)));
  EXPECT_TRUE(testing::WaitFor([&] { return State(id) == "done"; }, std::chrono::seconds(5)));
}

TEST_F(Callbacks, AHangingReceiverDoesNotDelayOtherTopics) {
  CallbackReceiver slow;
  slow.SetHang("/hang", true);
  Start("{}\n", {"--callbacks-timeout", "3s"});
  int64_t due = WallClockMs() + 800;
  std::string tasks;
  for (int i = 0; i < 100; ++i) {
    tasks += std::string(tasks.empty() ? "" : ",") + R"({"payload":"s","at_ms":)" +
             std::to_string(due) + R"(,"callback":{"url":")" + slow.base_url() + R"(/hang"}})";
  }
  int status = 0;
  Call("POST", "/v1/topics/slow/tasks:batch", R"({"tasks":[)" + tasks + "]}", &status);
  ASSERT_EQ(status, 201);
  tasks.clear();
  for (int i = 0; i < 20; ++i) {
    tasks += std::string(tasks.empty() ? "" : ",") + R"({"payload":"f","at_ms":)" +
             std::to_string(due) + R"(,"callback":{"url":")" + receiver_.base_url() + R"(/fast"}})";
  }
  Call("POST", "/v1/topics/fast/tasks:batch", R"({"tasks":[)" + tasks + "]}", &status);
  ASSERT_EQ(status, 201);
  ASSERT_TRUE(receiver_.WaitForCalls("/fast", 20, std::chrono::seconds(5)));
  int64_t worst = 0;
  for (const auto& call : receiver_.Calls("/fast")) worst = std::max(worst, call.at_ms - due);
  std::cout << "other topic's worst lateness while one receiver hangs: " << worst << " ms\n";
  EXPECT_LE(worst, 200);
  EXPECT_GE(slow.Calls("/hang").size(), 1u);  // the slow topic is being called, and hangs
  slow.SetHang("/hang", false);
}

TEST_F(Callbacks, SignatureVerifiesWithTheKeyAndNotWithAnother) {
  Start("callbacks:\n  signing_key: s3cret\n");
  AddCallback("signed", receiver_.base_url() + "/signed");
  ASSERT_TRUE(receiver_.WaitForCalls("/signed", 1, std::chrono::seconds(5)));
  auto call = receiver_.Calls("/signed").front();
  std::string timestamp = call.headers["x-delayq-timestamp"];
  std::string signature = call.headers["x-delayq-signature"];
  ASSERT_FALSE(timestamp.empty());
  EXPECT_LE(std::llabs(std::stoll(timestamp) - WallClockMs() / 1000), 5);
  EXPECT_EQ(signature, ExpectedSignature("s3cret", timestamp, call.body));
  EXPECT_NE(signature, ExpectedSignature("wrong", timestamp, call.body));
  EXPECT_NE(signature, ExpectedSignature("s3cret", timestamp, call.body + " "));
}

TEST_F(Callbacks, BadCallbackSpecsAreRefusedAtAddTime) {
  Start("services:\n  known: [\"" + receiver_.base_url() +
        "\"]\ncallbacks:\n  allow_hosts: [\"127.0.0.1\"]\n  timeout: 5s\n");
  struct Case {
    std::string callback;
    std::string mentions;
  };
  std::vector<Case> cases = {
      {R"({"url":"/relative"})", "callback.url"},
      {R"({"service":"unknown","path":"/x"})", "unknown"},
      {R"({"url":"ftp://127.0.0.1/x"})", "scheme"},
      {R"({"url":"http://10.1.2.3/x"})", "allow_hosts"},
      {R"({"url":"http://127.0.0.1/x","headers":{"bad name":"v"}})", "header name"},
      {R"({"url":"http://127.0.0.1/x","headers":{"X-A":"a\r\nInjected: 1"}})", "line breaks"},
      {R"({"url":"http://127.0.0.1/x","headers":{"X-Delayq-Attempt":"9"}})", "set by delayq"},
      {R"({"url":"http://127.0.0.1/x","method":"TRACE"})", "method"},
      {R"({"url":"http://127.0.0.1/x","timeout_ms":50})", "timeout_ms"},
      {R"({"url":"http://127.0.0.1/x","timeout_ms":9000})", "callbacks.timeout"},
      {R"({"url":"http://127.0.0.1/x","service":"known"})", "not both"},
      {R"("http://127.0.0.1/x")", "object"},
  };
  for (const Case& c : cases) {
    int status = 0;
    json::value r = Call("POST", "/v1/topics/bad/tasks",
                         R"({"payload":1,"callback":)" + c.callback + "}", &status);
    EXPECT_EQ(status, 400) << c.callback;
    std::string message = r.is_object() ? std::string(r.at("error_msg").as_string()) : "";
    EXPECT_NE(message.find(c.mentions), std::string::npos) << c.callback << " -> " << message;
  }
  // And the good one works.
  int status = 0;
  Call("POST", "/v1/topics/bad/tasks",
       R"({"payload":1,"callback":{"service":"known","path":"/ok"}})", &status);
  EXPECT_EQ(status, 201);
  EXPECT_TRUE(receiver_.WaitForCalls("/ok", 1, std::chrono::seconds(5)));
}

TEST_F(Callbacks, ACrashWhileACallbackIsInFlightRedeliversItAfterRestart) {
  receiver_.SetHang("/inflight", true);
  Start("{}\n", {"--callbacks-timeout", "1s"});
  std::string id = AddCallback("crash", receiver_.base_url() + "/inflight");
  ASSERT_TRUE(receiver_.WaitForCalls("/inflight", 1, std::chrono::seconds(5)));
  server_->Kill();  // the callback is in flight, unanswered
  receiver_.SetHang("/inflight", false);
  ASSERT_TRUE(server_->Start()) << server_->last_error();
  client_ = std::make_unique<HttpClient>(server_->address());
  // The delivery lease (callbacks.timeout + 5 s) expires, and the task is sent again.
  ASSERT_TRUE(receiver_.WaitForCalls("/inflight", 2, std::chrono::seconds(20)));
  EXPECT_EQ(receiver_.Calls("/inflight")[1].headers["x-delayq-attempt"], "2");
  EXPECT_TRUE(testing::WaitFor([&] { return State(id) == "done"; }, std::chrono::seconds(5)));
}

TEST_F(Callbacks, TopicDefaultsGiveTheCallbackAndTheRateLimit) {
  // 10 callbacks per second for "paced"; its default callback comes from the config.
  Start(
      "topics:\n  paced:\n    rate_limit: 10\n    max_attempts: 2\n    callback:\n"
      "      url: \"" +
      receiver_.base_url() + "/paced\"\n");
  std::string tasks;
  for (int i = 0; i < 25; ++i) tasks += std::string(tasks.empty() ? "" : ",") + R"({"payload":1})";
  int status = 0;
  json::value added =
      Call("POST", "/v1/topics/paced/tasks:batch", R"({"tasks":[)" + tasks + "]}", &status);
  ASSERT_EQ(status, 201) << json::serialize(added);
  std::string first(added.at("ids").as_array()[0].as_string());
  json::value task = Call("GET", "/v1/tasks/" + first, "");
  EXPECT_EQ(task.at("kind").as_string(), "callback");
  EXPECT_EQ(task.at("max_attempts").as_int64(), 2);
  ASSERT_TRUE(receiver_.WaitForCalls("/paced", 25, std::chrono::seconds(10)));
  auto calls = receiver_.Calls("/paced");
  // A bucket of 10 starts full: 10 at once, then 10 per second for the other 15.
  int64_t span = calls.back().at_ms - calls.front().at_ms;
  std::cout << "25 callbacks at 10/s took " << span << " ms\n";
  EXPECT_GE(span, 1300);
  EXPECT_LE(span, 3000);
  for (size_t i = 10; i + 10 < calls.size(); ++i) {
    EXPECT_GE(calls[i + 10].at_ms - calls[i].at_ms, 800) << "more than 10 in a second at " << i;
  }
}

}  // namespace
}  // namespace delayq
