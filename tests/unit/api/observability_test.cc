// Route patterns, per-topic metric series with their cap, request ids, and the log lines
// of failed requests.

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <future>
#include <sstream>

#include "api/http_metrics.h"
#include "api/request_id.h"
#include "api/router.h"
#include "api/routes.h"
#include "engine/metrics.h"
#include "support/failing_store.h"
#include "support/temp_dir.h"

namespace delayq::api {
namespace {

TEST(RoutePattern, IdsAndTopicsBecomePlaceholders) {
  EXPECT_EQ(RoutePattern("/v1/topics"), "/v1/topics");
  EXPECT_EQ(RoutePattern("/v1/topics/orders"), "/v1/topics/{topic}");
  EXPECT_EQ(RoutePattern("/v1/topics/orders/tasks"), "/v1/topics/{topic}/tasks");
  EXPECT_EQ(RoutePattern("/v1/topics/orders/tasks:batch"), "/v1/topics/{topic}/tasks:batch");
  EXPECT_EQ(RoutePattern("/v1/topics/orders/pull"), "/v1/topics/{topic}/pull");
  EXPECT_EQ(RoutePattern("/v1/topics/orders/dead"), "/v1/topics/{topic}/dead");
  EXPECT_EQ(RoutePattern("/v1/tasks/384282274364915712"), "/v1/tasks/{id}");
  EXPECT_EQ(RoutePattern("/v1/tasks/1/ack"), "/v1/tasks/{id}/ack");
  EXPECT_EQ(RoutePattern("/v1/tasks/1/nack"), "/v1/tasks/{id}/nack");
  EXPECT_EQ(RoutePattern("/v1/tasks/1/reschedule"), "/v1/tasks/{id}/reschedule");
  EXPECT_EQ(RoutePattern("/v1/tasks/1/redrive"), "/v1/tasks/{id}/redrive");
  EXPECT_EQ(RoutePattern("/delay/task/add"), "/delay/task/add");
  EXPECT_EQ(RoutePattern("/delay/task/pull"), "/delay/task/pull");
  EXPECT_EQ(RoutePattern("/metrics"), "/metrics");
  EXPECT_EQ(RoutePattern("/"), "/");
  EXPECT_EQ(RoutePattern("/ui/app.js"), "/ui/{file}");
  EXPECT_EQ(RoutePattern("/v1/stats/lateness"), "/v1/stats/lateness");
}

TEST(RoutePattern, AnythingElseIsOneBucket) {
  for (const char* path : {"/v1/", "/v1/topics/a/b/c/d", "/v1/tasks/1/explode", "/v1/other",
                           "/favicon.ico", "/v1/topics/orders/tasks/extra", ""}) {
    EXPECT_EQ(RoutePattern(path), kUnmatchedRoute) << path;
  }
  EXPECT_EQ(MethodLabel("GET"), "GET");
  EXPECT_EQ(MethodLabel("BREW"), "_other");
}

TEST(TopicMetrics, TopicsBeyondTheCapShareTheOtherSeries) {
  engine::TopicMetrics metrics(2);
  metrics.Count("a", engine::TopicEvent::kAdded);
  metrics.Count("b", engine::TopicEvent::kAdded, 2);
  metrics.Count("c", engine::TopicEvent::kAdded, 3);
  metrics.Count("d", engine::TopicEvent::kDead);
  metrics.Count("a", engine::TopicEvent::kFired);  // a keeps its series
  // A real topic called "_other" cannot make a second series with the same labels.
  metrics.Count("_other", engine::TopicEvent::kAdded);
  std::map<std::string, std::array<uint64_t, engine::kTopicEventCount>> seen;
  metrics.ForEach([&](std::string_view topic, const engine::TopicMetrics::Counts& counts) {
    EXPECT_EQ(seen.count(std::string(topic)), 0u) << "two series for " << topic;
    auto& row = seen[std::string(topic)];
    for (size_t i = 0; i < counts.size(); ++i) row[i] = counts[i].load();
  });
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen["a"][0], 1u);
  EXPECT_EQ(seen["a"][1], 1u);
  EXPECT_EQ(seen["b"][0], 2u);
  EXPECT_EQ(seen["_other"][0], 4u);  // c (3) + the topic named _other (1)
  EXPECT_EQ(seen["_other"][4], 1u);  // d
}

TEST(TopicMetrics, NoOtherSeriesUntilNeeded) {
  engine::TopicMetrics metrics(100);
  metrics.Count("a", engine::TopicEvent::kAdded);
  size_t series = 0;
  metrics.ForEach([&](std::string_view topic, const engine::TopicMetrics::Counts&) {
    EXPECT_EQ(topic, "a");
    ++series;
  });
  EXPECT_EQ(series, 1u);
}

TEST(HttpMetrics, CountsByRouteMethodAndCode) {
  HttpMetrics metrics;
  metrics.Observe("/v1/tasks/{id}", "GET", 200, 150);
  metrics.Observe("/v1/tasks/{id}", "GET", 200, 3'000'000);
  metrics.Observe("/v1/tasks/{id}", "GET", 404, 90);
  metrics.ObserveTransportError(413);
  std::string out;
  metrics.Render(&out);
  EXPECT_NE(out.find("delayq_http_requests_total{route=\"/v1/tasks/{id}\",method=\"GET\","
                     "code=\"200\"} 2\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("code=\"404\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("delayq_http_request_duration_seconds_count{route=\"/v1/tasks/{id}\","
                     "method=\"GET\"} 3\n"),
            std::string::npos);
  // 150 us and 90 us are within 250 us; 3 s is not within 2.5 s.
  EXPECT_NE(out.find("method=\"GET\",le=\"0.00025\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("method=\"GET\",le=\"2.5\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("method=\"GET\",le=\"5\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("delayq_http_transport_errors_total{code=\"413\"} 1\n"), std::string::npos);
}

TEST(RequestId, ClientIdsAreKeptWhenSafeAndReplacedOtherwise) {
  EXPECT_EQ(RequestIdFor("abc-123"), "abc-123");
  EXPECT_EQ(RequestIdFor("0af7651916cd43dd8448eb211c80319c"), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(RequestIdFor("Root=1-5f3c/a:b+c="), "Root=1-5f3c/a:b+c=");
  for (std::string bad : {std::string(), std::string("has space"), std::string("quote\""),
                          std::string("line\nbreak"), std::string(129, 'a')}) {
    std::string id = RequestIdFor(bad);
    EXPECT_NE(id, bad);
    EXPECT_EQ(id.size(), 16u) << id;
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
  }
  EXPECT_NE(RequestIdFor(""), RequestIdFor(""));
}

// A failed answer (5xx) is logged with its request id even when the access log is off.
TEST(RouterLogging, ServerFailuresAreLoggedWithTheRequestIdWhenTheAccessLogIsOff) {
  testing::TempDir dir;
  store::StoreConfig config;
  config.data_dir = dir.Sub("data");
  auto real = store::OpenStore(config);
  ASSERT_TRUE(real) << real.error().message;
  testing::FailingStore store(std::move(*real));
  engine::Engine engine(store, SystemClock::Instance(), engine::EngineConfig{});
  ASSERT_TRUE(engine.Start());
  ApiConfig api_config;
  api_config.access_log = false;
  Router router(engine, api_config);

  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_pattern("level=%l %v");
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);

  auto call = [&](std::string body, std::string request_id) {
    http::Request request;
    request.method = "POST";
    request.target = "/v1/topics/t/tasks";
    request.body = std::move(body);
    request.headers.emplace_back("X-Request-Id", std::move(request_id));
    std::promise<http::Response> answer;
    router.Handle(std::move(request), [&](http::Response r) { answer.set_value(std::move(r)); });
    return answer.get_future().get();
  };
  http::Response ok = call(R"({"payload":1})", "fine-1");
  EXPECT_EQ(ok.status, 201);
  store.failing = true;
  http::Response failed = call(R"({"payload":2})", "broken-2");
  EXPECT_EQ(failed.status, 503);
  bool echoed = false;
  for (const auto& [name, value] : failed.headers)
    echoed |= name == "X-Request-Id" && value == "broken-2";
  EXPECT_TRUE(echoed);

  spdlog::set_default_logger(previous);
  engine.Stop();
  std::string log = captured.str();
  EXPECT_EQ(log.find("fine-1"), std::string::npos) << log;  // access log off
  EXPECT_NE(log.find("level=warning msg=\"request failed\" request_id=broken-2"), std::string::npos)
      << log;
  EXPECT_NE(log.find("status=503"), std::string::npos) << log;
}

}  // namespace
}  // namespace delayq::api
