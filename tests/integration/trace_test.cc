// W3C trace context end to end against the real binary: a traceparent (and tracestate) sent
// with an add arrives unchanged at the callback receiver, in the pulled task and in GET;
// invalid values are refused with nothing stored; delayq's log lines about the task carry
// its trace id.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "support/integration.h"
#include "support/redis_server.h"
#include "support/served.h"

namespace delayq {
namespace {

using namespace delayq::integration;
namespace json = boost::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kParent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr char kState[] = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
constexpr char kOtherParent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

class Trace : public ::testing::Test, protected testing::Served {
 protected:
  void SetUp() override { StartWithConfig("{}\n", {"--callbacks-retry-initial", "50ms"}); }
  ~Trace() override { StopServer(); }  // before receiver_ (and redis_), which it talks to

  json::value Send(std::string_view method, const std::string& target, const std::string& body,
                   const Headers& headers, int* status) {
    HttpResponse response = client_->Request(method, target, body, headers);
    *status = response.status;
    boost::system::error_code ec;
    json::value value = json::parse(response.body, ec);
    return ec ? json::value(response.body) : value;
  }

  std::string Field(const json::value& object, std::string_view name) {
    const json::value* v = object.is_object() ? object.as_object().if_contains(name) : nullptr;
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
  }

  json::value Get(const std::string& id) { return CallJson("GET", "/v1/tasks/" + id, ""); }

  CallbackReceiver receiver_;
};

TEST_F(Trace, ACallbackCarriesTheTraceContextGivenAtAdd) {
  int status = 0;
  json::value added =
      Send("POST", "/v1/topics/traced/tasks",
           R"({"payload":{"n":1},"callback":{"url":")" + receiver_.base_url() + R"(/hook"}})",
           {{"traceparent", kParent}, {"tracestate", kState}}, &status);
  ASSERT_EQ(status, 201) << json::serialize(added);
  ASSERT_TRUE(receiver_.WaitForCalls("/hook", 1, std::chrono::seconds(10)));
  auto calls = receiver_.Calls("/hook");
  EXPECT_EQ(calls[0].headers["traceparent"], kParent);
  EXPECT_EQ(calls[0].headers["tracestate"], kState);
  json::value task = Get(Field(added, "id"));
  EXPECT_EQ(Field(task, "traceparent"), kParent) << json::serialize(task);
  EXPECT_EQ(Field(task, "tracestate"), kState);
}

TEST_F(Trace, ATasksTraceContextReplacesOneInItsCallbackHeaders) {
  // The configured pair names no request; the task's traceparent does (and it has no
  // tracestate, so none is sent).
  int status = 0;
  json::value added = Send("POST", "/v1/topics/traced/tasks",
                           R"({"payload":"p","callback":{"url":")" + receiver_.base_url() +
                               R"(/own","headers":{"traceparent":")" + kOtherParent +
                               R"(","tracestate":"z=9","X-Kept":"1"}}})",
                           {{"traceparent", kParent}}, &status);
  ASSERT_EQ(status, 201) << json::serialize(added);
  ASSERT_TRUE(receiver_.WaitForCalls("/own", 1, std::chrono::seconds(10)));
  auto headers = receiver_.Calls("/own")[0].headers;
  EXPECT_EQ(headers["traceparent"], kParent);
  EXPECT_EQ(headers.count("tracestate"), 0u);
  EXPECT_EQ(headers["x-kept"], "1");
}

TEST_F(Trace, APulledTaskAndItsGetCarryTheTraceContext) {
  int status = 0;
  json::value added = Send("POST", "/v1/topics/pulled/tasks", R"({"payload":"p"})",
                           {{"traceparent", kParent}}, &status);
  ASSERT_EQ(status, 201) << json::serialize(added);
  std::string id = Field(added, "id");
  json::value task = Get(id);
  EXPECT_EQ(Field(task, "traceparent"), kParent) << json::serialize(task);
  EXPECT_FALSE(task.as_object().contains("tracestate"));
  json::value pulled = CallJson("POST", "/v1/topics/pulled/pull", R"({"wait_ms":5000})");
  ASSERT_TRUE(pulled.is_object() && pulled.as_object().contains("tasks")) << pulled;
  ASSERT_EQ(pulled.at("tasks").as_array().size(), 1u) << pulled;
  const json::value& item = pulled.at("tasks").as_array()[0];
  EXPECT_EQ(Field(item, "id"), id);
  EXPECT_EQ(Field(item, "traceparent"), kParent);

  // A task added without trace context has none in either form.
  json::value plain = CallJson("POST", "/v1/topics/pulled/tasks", R"({"payload":"q"})");
  EXPECT_FALSE(Get(Field(plain, "id")).as_object().contains("traceparent"));
}

TEST_F(Trace, ABatchTakesTheHeaderForEachTaskUnlessATaskGivesItsOwn) {
  int status = 0;
  json::value added =
      Send("POST", "/v1/topics/batch/tasks:batch",
           std::string(R"({"tasks":[{"payload":"a"},{"payload":"b","traceparent":")") +
               kOtherParent + R"("}]})",
           {{"traceparent", kParent}, {"tracestate", kState}}, &status);
  ASSERT_EQ(status, 201) << json::serialize(added);
  const json::array& ids = added.at("ids").as_array();
  ASSERT_EQ(ids.size(), 2u);
  json::value first = Get(std::string(ids[0].as_string()));
  json::value second = Get(std::string(ids[1].as_string()));
  EXPECT_EQ(Field(first, "traceparent"), kParent);
  EXPECT_EQ(Field(first, "tracestate"), kState);
  EXPECT_EQ(Field(second, "traceparent"), kOtherParent);
  EXPECT_EQ(Field(second, "tracestate"), "") << "a task's own traceparent comes without the "
                                                "header's tracestate";
}

TEST_F(Trace, TheSeedAddKeepsTheTraceContextToo) {
  int status = 0;
  json::value added =
      Send("POST", "/delay/task/add", R"({"topic":"seed_traced","timing_moment":1,"content":"x"})",
           {{"traceparent", kParent}}, &status);
  ASSERT_EQ(status, 200) << json::serialize(added);
  ASSERT_EQ(added.at("dm_error").as_int64(), 0) << json::serialize(added);
  std::string id = std::to_string(added.at("task_id").as_int64());
  EXPECT_EQ(Field(Get(id), "traceparent"), kParent);
}

TEST_F(Trace, InvalidValuesAreRefusedNamingTheHeaderAndNothingIsStored) {
  const std::vector<Headers> bad = {
      {{"traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"}},
      {{"traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}},
      {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"}},
      {{"traceparent", kParent}, {"traceparent", kOtherParent}},
      {{"traceparent", kParent}, {"tracestate", "k=" + std::string(600, 'v')}},
  };
  uint64_t before = TasksAdded();
  for (const Headers& headers : bad) {
    bool about_state = headers.back().first == "tracestate";
    std::string name = about_state ? "tracestate header" : "traceparent header";
    int status = 0;
    json::value v1 =
        Send("POST", "/v1/topics/refused/tasks", R"({"payload":"p"})", headers, &status);
    EXPECT_EQ(status, 400) << json::serialize(v1);
    std::string message = Field(v1, "error_msg");
    EXPECT_NE(message.find(name), std::string::npos) << message;
    if (!about_state) {
      EXPECT_NE(message.find("00-<32 hex trace-id>"), std::string::npos) << message;
    }
    json::value batch = Send("POST", "/v1/topics/refused/tasks:batch",
                             R"({"tasks":[{"payload":"p"}]})", headers, &status);
    EXPECT_EQ(status, 400) << json::serialize(batch);
    json::value seed =
        Send("POST", "/delay/task/add", R"({"topic":"refused","timing_moment":1,"content":"x"})",
             headers, &status);
    EXPECT_EQ(status, 400) << json::serialize(seed);
    EXPECT_EQ(seed.at("dm_error").as_int64(), 1) << json::serialize(seed);
    EXPECT_NE(Field(seed, "error_msg").find(name), std::string::npos) << json::serialize(seed);
  }
  int status = 0;
  json::value item =
      Send("POST", "/v1/topics/refused/tasks:batch",
           R"({"tasks":[{"payload":"p"},{"payload":"p","traceparent":"nope"}]})", {}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(Field(item, "error_msg").find("tasks[1].traceparent"), std::string::npos)
      << json::serialize(item);
  EXPECT_EQ(TasksAdded(), before);
}

TEST_F(Trace, LogLinesAboutATracedTaskCarryItsTraceId) {
  receiver_.SetStatuses("/down", {503});
  int status = 0;
  json::value added = Send("POST", "/v1/topics/dying/tasks",
                           R"({"payload":"p","max_attempts":2,"callback":{"url":")" +
                               receiver_.base_url() + R"(/down"}})",
                           {{"traceparent", kParent}}, &status);
  ASSERT_EQ(status, 201) << json::serialize(added);
  std::string id = Field(added, "id");
  ASSERT_TRUE(WaitFor([&] { return Field(Get(id), "state") == "dead"; }, std::chrono::seconds(10)));
  EXPECT_EQ(receiver_.Calls("/down")[1].headers["traceparent"], kParent) << "retries carry it";
  std::string dead_line;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::string log = server_->Log();
        size_t at = log.find("msg=\"task dead\" task=" + id);
        if (at == std::string::npos) return false;
        dead_line = log.substr(at, log.find('\n', at) - at);
        return true;
      },
      std::chrono::seconds(5)));
  EXPECT_NE(dead_line.find("trace_id=4bf92f3577b34da6a3ce929d0e0e4736"), std::string::npos)
      << dead_line;
  std::string log = server_->Log();
  size_t failed = log.find("msg=\"delivery failed\" task=" + id);
  ASSERT_NE(failed, std::string::npos) << log;
  EXPECT_NE(log.substr(failed, log.find('\n', failed) - failed)
                .find("trace_id=4bf92f3577b34da6a3ce929d0e0e4736"),
            std::string::npos);
  // The add's own access line too.
  size_t access = log.find("msg=request ");
  bool found = false;
  for (; access != std::string::npos; access = log.find("msg=request ", access + 1)) {
    std::string line = log.substr(access, log.find('\n', access) - access);
    if (line.find("path=/v1/topics/dying/tasks") != std::string::npos) {
      EXPECT_NE(line.find("trace_id=4bf92f3577b34da6a3ce929d0e0e4736"), std::string::npos) << line;
      found = true;
    }
  }
  EXPECT_TRUE(found) << log;
}

// The same path with `store: redis`: the trace context lives in the task hash.
class TraceRedis : public Trace {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start());
    StartWithConfig(
        "{}\n", {"--store", "redis", "--redis-url", redis_.url(), "--redis-poll-interval", "20ms"});
  }
  testing::RedisServer redis_{dir_.Sub("redis")};
};

TEST_F(TraceRedis, ACallbackAPullAndGetCarryTheTraceContext) {
  int status = 0;
  json::value callback =
      Send("POST", "/v1/topics/traced/tasks",
           R"({"payload":"c","callback":{"url":")" + receiver_.base_url() + R"(/hook"}})",
           {{"traceparent", kParent}, {"tracestate", kState}}, &status);
  ASSERT_EQ(status, 201) << json::serialize(callback);
  json::value pull = Send("POST", "/v1/topics/pulled/tasks", R"({"payload":"p"})",
                          {{"traceparent", kOtherParent}}, &status);
  ASSERT_EQ(status, 201) << json::serialize(pull);
  ASSERT_TRUE(receiver_.WaitForCalls("/hook", 1, std::chrono::seconds(10)));
  auto headers = receiver_.Calls("/hook")[0].headers;
  EXPECT_EQ(headers["traceparent"], kParent);
  EXPECT_EQ(headers["tracestate"], kState);
  EXPECT_EQ(Field(Get(Field(callback, "id")), "tracestate"), kState);
  json::value pulled = CallJson("POST", "/v1/topics/pulled/pull", R"({"wait_ms":5000})");
  ASSERT_TRUE(pulled.is_object() && pulled.at("tasks").as_array().size() == 1) << pulled;
  EXPECT_EQ(Field(pulled.at("tasks").as_array()[0], "traceparent"), kOtherParent);
  EXPECT_EQ(Field(Get(Field(pull, "id")), "traceparent"), kOtherParent);
}

}  // namespace
}  // namespace delayq
