// Storage faults: a store that cannot write gets 503 / dm_error 5 and no
// acknowledgement; nothing is stored; service resumes when the store does.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>
#include <utility>

#include "api/router.h"
#include "support/failing_store.h"
#include "support/temp_dir.h"

namespace delayq::api {
namespace {

namespace json = boost::json;

class StorageFault : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreConfig config;
    config.data_dir = dir_.Sub("data");
    auto real = store::OpenStore(config);
    ASSERT_TRUE(real) << real.error().message;
    store_ = std::make_unique<testing::FailingStore>(std::move(*real));
    engine_ =
        std::make_unique<engine::Engine>(*store_, SystemClock::Instance(), engine::EngineConfig{});
    ASSERT_TRUE(engine_->Start());
    router_ = std::make_unique<Router>(*engine_, ApiConfig{});
  }
  void TearDown() override { engine_->Stop(); }

  http::Response Call(const std::string& method, const std::string& target,
                      const std::string& body) {
    http::Request request;
    request.method = method;
    request.target = target;
    request.body = body;
    std::promise<http::Response> answer;
    router_->Handle(std::move(request), [&](http::Response r) { answer.set_value(std::move(r)); });
    http::Response response = answer.get_future().get();
    // What the transport does before writing (http/handler.h).
    if (response.finish) std::exchange(response.finish, nullptr)(response);
    return response;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::FailingStore> store_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<Router> router_;
};

TEST_F(StorageFault, AddsGet503AndNothingIsStoredWhileTheDiskIsFull) {
  store_->failing = true;
  for (const auto& [target, body] : std::vector<std::pair<std::string, std::string>>{
           {"/delay/task/add", R"({"topic":"t","timing_moment":1,"content":"x"})"},
           {"/v1/topics/t/tasks", R"({"payload":"x"})"},
           {"/v1/topics/t/tasks:batch", R"({"tasks":[{"payload":"a"},{"payload":"b"}]})"}}) {
    http::Response r = Call("POST", target, body);
    EXPECT_EQ(r.status, 503) << target;
    json::value v = json::parse(r.body);
    EXPECT_EQ(v.at("dm_error").as_int64(), 5);
    EXPECT_EQ(v.as_object().count("task_id"), 0u);  // no acknowledgement
    EXPECT_EQ(v.as_object().count("id"), 0u);
    EXPECT_NE(std::string(v.at("error_msg").as_string()).find("No space left"), std::string::npos);
  }
  EXPECT_EQ(*store_->MaxTaskId(), 0u);  // nothing was written
  EXPECT_EQ(Call("GET", "/readyz", "").status, 503);
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);  // alive, not ready

  store_->failing = false;
  http::Response ok =
      Call("POST", "/delay/task/add", R"({"topic":"t","timing_moment":1,"content":"x"})");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(Call("GET", "/readyz", "").status, 200);
  json::value pulled = json::parse(Call("POST", "/delay/task/pull", R"({"topic":"t"})").body);
  EXPECT_EQ(pulled.at("content").as_string(), "x");
}

TEST_F(StorageFault, PullsGet503AndTheTaskIsStillThereAfterwards) {
  ASSERT_EQ(Call("POST", "/v1/topics/t/tasks", R"({"payload":"keep"})").status, 201);
  store_->failing = true;
  EXPECT_EQ(Call("POST", "/delay/task/pull", R"({"topic":"t"})").status, 503);
  EXPECT_EQ(Call("POST", "/v1/topics/t/pull", R"({"max":5})").status, 503);
  store_->failing = false;
  json::value pulled = json::parse(Call("POST", "/v1/topics/t/pull", R"({"max":5})").body);
  ASSERT_EQ(pulled.at("tasks").as_array().size(), 1u);
  EXPECT_EQ(pulled.at("tasks").as_array()[0].at("payload").as_string(), "keep");
}

}  // namespace
}  // namespace delayq::api
