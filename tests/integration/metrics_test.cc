// GET /metrics against the real binary: the exposition passes `promtool check
// metrics`, and the counters, gauges and histograms move as tasks flow through every path
// (v1 add/pull/ack/nack, seed add/pull, callbacks that succeed and fail, cancel, refused
// calls, transport errors), with the per-topic series capped.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

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
using testing::ProcessResult;
using testing::RunProcess;
namespace json = boost::json;

constexpr const char* kAdmin = "metrics-admin-token-0123";
constexpr const char* kOrdersOnly = "metrics-orders-token-0123";

// Series as printed ("name{labels}") -> value.
std::map<std::string, double> ParseExposition(const std::string& text) {
  std::map<std::string, double> series;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    series[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return series;
}

class Metrics : public ::testing::Test, protected testing::Served {
 protected:
  void SetUp() override {
    StartWithConfig(std::string("auth:\n  tokens:\n    - \"") + kAdmin + "\"\n" +
                        "    - token: \"" + kOrdersOnly + "\"\n      topics: [orders]\n" +
                        "      can: [publish, consume]\n" + "metrics:\n  max_topics: 3\n" +
                        "callbacks:\n  retry:\n    initial: 10ms\n",
                    {"--limits-max-body-bytes", "4096", "--limits-max-payload-bytes", "1024"});
  }

  HttpResponse Send(const std::string& method, const std::string& target,
                    const std::string& body = "", const std::string& token = kAdmin) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    return client_->Request(method, target, body, headers);
  }

  json::object SendJson(const std::string& method, const std::string& target,
                        const std::string& body, int expected_status) {
    HttpResponse r = Send(method, target, body);
    EXPECT_EQ(r.status, expected_status) << method << " " << target << ": " << r.body;
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    return v.is_object() ? v.as_object() : json::object();
  }

  std::string Add(const std::string& topic, const std::string& fields) {
    json::object r = SendJson("POST", "/v1/topics/" + topic + "/tasks", fields, 201);
    return r.contains("id") ? std::string(r.at("id").as_string()) : "";
  }

  // Scrapes /metrics, checks it with promtool, returns the parsed series.
  std::map<std::string, double> Scrape() {
    HttpResponse r = Send("GET", "/metrics");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4");
    std::string file = dir_.Sub("scrape.txt");
    std::ofstream(file) << r.body;
    // promtool reads the exposition on stdin; run it through the shell to redirect.
    ProcessResult check = RunProcess({"/bin/sh", "-c", "promtool check metrics < '" + file + "'"});
    EXPECT_EQ(check.exit_code, 0) << "promtool (Debian package prometheus, installed by "
                                     "scripts/bootstrap.sh) rejected /metrics:\n"
                                  << check.out << check.err;
    EXPECT_EQ(check.out + check.err, "") << "promtool lint findings";
    return ParseExposition(r.body);
  }
};

TEST_F(Metrics, PromtoolAcceptsTheExpositionAndCountersMoveAsTasksFlow) {
  auto before = Scrape();
  EXPECT_EQ(before["delayq_tasks_added_total"], 0);
  EXPECT_EQ(before["delayq_build_info{version=\"0.1.0\"}"], 1);
  EXPECT_EQ(before.count("delayq_topic_tasks_added_total{topic=\"orders\"}"), 0u);

  CallbackReceiver receiver;
  receiver.SetStatuses("/ok", {200});
  receiver.SetStatuses("/fail", {500});

  // orders: three pull tasks due now, one due in an hour (cancelled below).
  std::string a = Add("orders", R"({"payload":{"n":1},"max_attempts":1})");
  std::string b = Add("orders", R"({"payload":{"n":2},"max_attempts":1})");
  Add("orders", R"({"payload":{"n":3},"max_attempts":1})");
  std::string later = Add("orders", R"({"payload":{"n":4},"delay_ms":3600000})");
  // hooks: one callback that succeeds, one that fails once and is then dead.
  Add("hooks", R"({"payload":"ok","callback":{"url":")" + receiver.base_url() + R"(/ok"}})");
  Add("hooks", R"({"payload":"fail","max_attempts":1,"callback":{"url":")" + receiver.base_url() +
                   R"(/fail"}})");
  // seed: one seed add, pulled by the seed pull.
  HttpResponse seed =
      Send("POST", "/delay/task/add", R"({"topic":"seed","timing_moment":1,"content":"s"})");
  ASSERT_EQ(seed.status, 200) << seed.body;
  // Two more topics: over metrics.max_topics (3), so they share topic="_other".
  Add("extra1", R"({"payload":1,"delay_ms":3600000})");
  Add("extra2", R"({"payload":2,"delay_ms":3600000})");

  // Pull two orders tasks (v1), ack one, nack the other (max_attempts 1: dead).
  json::object pulled = SendJson("POST", "/v1/topics/orders/pull", R"({"max":2})", 200);
  ASSERT_EQ(pulled["tasks"].as_array().size(), 2u) << json::serialize(pulled);
  const json::object& first = pulled["tasks"].as_array()[0].as_object();
  const json::object& second = pulled["tasks"].as_array()[1].as_object();
  SendJson("POST", "/v1/tasks/" + std::string(first.at("id").as_string()) + "/ack",
           R"({"lease":")" + std::string(first.at("lease").as_string()) + "\"}", 200);
  json::object nacked =
      SendJson("POST", "/v1/tasks/" + std::string(second.at("id").as_string()) + "/nack",
               R"({"lease":")" + std::string(second.at("lease").as_string()) + "\"}", 200);
  EXPECT_EQ(nacked["state"], "dead");
  (void)a;
  (void)b;
  SendJson("DELETE", "/v1/tasks/" + later, "", 200);
  HttpResponse seed_pull = Send("POST", "/delay/task/pull", R"({"topic":"seed"})");
  ASSERT_EQ(seed_pull.status, 200);
  ASSERT_EQ(json::parse(seed_pull.body).at("content"), "s") << seed_pull.body;

  // Refused calls: no token (401), a topic token on another topic (403), no route (404),
  // a body over limits.max_body_bytes (413, answered by the transport).
  EXPECT_EQ(Send("GET", "/v1/topics", "", "").status, 401);
  EXPECT_EQ(Send("POST", "/v1/topics/hooks/tasks", R"({"payload":1})", kOrdersOnly).status, 403);
  EXPECT_EQ(Send("GET", "/no/such/path").status, 404);
  EXPECT_EQ(Send("POST", "/v1/topics/orders/tasks", std::string(5000, 'x')).status, 413);
  client_ = std::make_unique<HttpClient>(server_->address());  // the 413 closed the connection

  // Both callbacks answered and their outcomes recorded.
  ASSERT_TRUE(receiver.WaitForCalls("/ok", 1, std::chrono::seconds(10)));
  ASSERT_TRUE(receiver.WaitForCalls("/fail", 1, std::chrono::seconds(10)));
  std::map<std::string, double> m;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        m = ParseExposition(Send("GET", "/metrics").body);
        return m["delayq_topic_tasks_dead_total{topic=\"hooks\"}"] == 1 &&
               m["delayq_topic_tasks_delivered_total{topic=\"hooks\"}"] == 1;
      },
      std::chrono::seconds(10)));
  m = Scrape();

  // Totals.
  EXPECT_EQ(m["delayq_tasks_added_total"], 9);
  EXPECT_EQ(m["delayq_callbacks_ok_total"], 1);
  EXPECT_EQ(m["delayq_callbacks_failed_total"], 1);
  EXPECT_EQ(m["delayq_callbacks_dead_total"], 1);
  EXPECT_EQ(m["delayq_callback_failures_total{reason=\"http_5xx\"}"], 1);
  EXPECT_EQ(m["delayq_callback_failures_total{reason=\"no_answer\"}"], 0);
  EXPECT_EQ(m["delayq_callback_seconds_count"], 2);
  // First deliveries: 2 v1 pulls, 2 callbacks, 1 seed pull; each has a lateness sample.
  EXPECT_EQ(m["delayq_delivery_lateness_seconds_count"], 5);
  EXPECT_GE(m["delayq_commit_seconds_count"], 1);
  // Jobs, not settles: the v1 pull's claim, the cancel, the seed pull and at least one callback
  // claim (both hooks tasks may share one). Acks, nacks and callback outcomes are settles.
  EXPECT_GE(m["delayq_store_job_seconds_count"], 4);

  // Per topic.
  auto topic = [&](const std::string& event, const std::string& name) {
    return m["delayq_topic_tasks_" + event + "_total{topic=\"" + name + "\"}"];
  };
  EXPECT_EQ(topic("added", "orders"), 4);
  EXPECT_EQ(topic("fired", "orders"), 2);
  EXPECT_EQ(topic("delivered", "orders"), 1);
  EXPECT_EQ(topic("failed", "orders"), 1);
  EXPECT_EQ(topic("dead", "orders"), 1);
  EXPECT_EQ(topic("cancelled", "orders"), 1);
  EXPECT_EQ(topic("added", "hooks"), 2);
  EXPECT_EQ(topic("fired", "hooks"), 2);
  EXPECT_EQ(topic("delivered", "hooks"), 1);
  EXPECT_EQ(topic("failed", "hooks"), 1);
  EXPECT_EQ(topic("dead", "hooks"), 1);
  EXPECT_EQ(topic("added", "seed"), 1);
  EXPECT_EQ(topic("delivered", "seed"), 1);
  // The cap: extra1 and extra2 have no series of their own.
  EXPECT_EQ(topic("added", "_other"), 2);
  EXPECT_EQ(m.count("delayq_topic_tasks_added_total{topic=\"extra1\"}"), 0u);

  // Tasks by state: done = ack + callback 2xx + seed pull; dead = nack + failed callback;
  // scheduled = the orders task nobody pulled + extra1 + extra2.
  EXPECT_EQ(m["delayq_tasks{state=\"done\"}"], 3);
  EXPECT_EQ(m["delayq_tasks{state=\"dead\"}"], 2);
  EXPECT_EQ(m["delayq_tasks{state=\"cancelled\"}"], 1);
  EXPECT_EQ(m["delayq_tasks{state=\"scheduled\"}"], 3);
  EXPECT_EQ(m["delayq_tasks{state=\"leased\"}"], 0);
  EXPECT_EQ(m["delayq_tasks{state=\"delivering\"}"], 0);
  EXPECT_EQ(m["delayq_tasks_due"], 1);  // the unpulled orders task
  EXPECT_GE(m["delayq_oldest_due_lateness_seconds"], 0);
  EXPECT_EQ(m["delayq_topics"], 5);
  // The embedded store's memory: the memtables hold the adds above, and are charged to the
  // block cache, so neither is empty; the kinds an operator sizes by are all exported.
  EXPECT_GT(m["delayq_rocksdb_memory_bytes{kind=\"memtables\"}"], 0);
  EXPECT_GT(m["delayq_rocksdb_memory_bytes{kind=\"block_cache\"}"], 0);
  EXPECT_EQ(m.count("delayq_rocksdb_memory_bytes{kind=\"table_readers\"}"), 1u);
  EXPECT_EQ(m.count("delayq_rocksdb_memory_bytes{kind=\"block_cache_pinned\"}"), 1u);

  // HTTP: by route pattern (never the raw path), method and status; 401/403 included.
  auto requests = [&](const std::string& route, const std::string& method,
                      const std::string& code) {
    return m["delayq_http_requests_total{route=\"" + route + "\",method=\"" + method +
             "\",code=\"" + code + "\"}"];
  };
  EXPECT_EQ(requests("/v1/topics/{topic}/tasks", "POST", "201"), 8);
  EXPECT_EQ(requests("/v1/topics/{topic}/tasks", "POST", "403"), 1);
  EXPECT_EQ(requests("/v1/topics/{topic}/pull", "POST", "200"), 1);
  EXPECT_EQ(requests("/v1/tasks/{id}/ack", "POST", "200"), 1);
  EXPECT_EQ(requests("/v1/tasks/{id}/nack", "POST", "200"), 1);
  EXPECT_EQ(requests("/v1/tasks/{id}", "DELETE", "200"), 1);
  EXPECT_EQ(requests("/delay/task/add", "POST", "200"), 1);
  EXPECT_EQ(requests("/delay/task/pull", "POST", "200"), 1);
  EXPECT_EQ(requests("/v1/topics", "GET", "401"), 1);
  EXPECT_EQ(requests("_other", "GET", "404"), 1);
  EXPECT_GE(requests("/metrics", "GET", "200"), 2);
  EXPECT_EQ(m["delayq_http_transport_errors_total{code=\"413\"}"], 1);
  EXPECT_EQ(m["delayq_http_request_duration_seconds_count{route=\"/v1/topics/{topic}/tasks\","
              "method=\"POST\"}"],
            9);
  for (const auto& [series, value] : m) {
    EXPECT_EQ(series.find("/v1/tasks/" + later), std::string::npos) << "raw path as a label";
  }
}

TEST_F(Metrics, MetricsNeedAnAdminTokenWhenTokensAreConfigured) {
  EXPECT_EQ(Send("GET", "/metrics", "", "").status, 401);
  EXPECT_EQ(Send("GET", "/metrics", "", kOrdersOnly).status, 403);
  auto m = Scrape();
  EXPECT_EQ(m["delayq_http_requests_total{route=\"/metrics\",method=\"GET\",code=\"401\"}"], 1);
  EXPECT_EQ(m["delayq_http_requests_total{route=\"/metrics\",method=\"GET\",code=\"403\"}"], 1);
}

// The alert rules of docs/OPERATIONS.md are valid (promtool check rules) and name only
// metrics that /metrics exports, so that copying them gives alerts that can fire.
TEST_F(Metrics, AlertRulesInTheOperationsGuideAreValidAndUseExportedMetrics) {
  std::ifstream guide(std::string(DELAYQ_SOURCE_DIR) + "/docs/OPERATIONS.md");
  ASSERT_TRUE(guide) << "docs/OPERATIONS.md not found";
  std::string rules, line;
  bool inside = false;
  while (std::getline(guide, line)) {
    if (line == "groups:") inside = true;
    if (inside && line == "```") break;
    if (inside) rules += line + "\n";
  }
  ASSERT_FALSE(rules.empty()) << "no 'groups:' block in docs/OPERATIONS.md";
  std::string file = dir_.Sub("rules.yml");
  std::ofstream(file) << rules;
  ProcessResult check = RunProcess({"/usr/bin/env", "promtool", "check", "rules", file});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;

  // Families exported (from the # TYPE lines), after some traffic so that labelled
  // families exist.
  Add("orders", R"({"payload":1})");
  std::string exposition = Send("GET", "/metrics").body;
  std::set<std::string> families;
  std::istringstream in(exposition);
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) families.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  // Every metric name in the rules ("delayq_" and then [a-z_]); no std::regex, whose GCC 12
  // headers trip -Wmaybe-uninitialized under the sanitizers.
  size_t checked = 0;
  for (size_t at = rules.find("delayq_"); at != std::string::npos;
       at = rules.find("delayq_", at + 1)) {
    size_t end = at + 7;
    while (end < rules.size() && ((rules[end] >= 'a' && rules[end] <= 'z') || rules[end] == '_')) {
      ++end;
    }
    std::string used = rules.substr(at, end - at);
    std::string metric = used;
    for (std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (metric.ends_with(suffix) &&
          families.count(metric.substr(0, metric.size() - suffix.size()))) {
        metric = metric.substr(0, metric.size() - suffix.size());
      }
    }
    EXPECT_EQ(families.count(metric), 1u) << used << " is used in an alert but not exported";
    ++checked;
    at = end - 1;
  }
  EXPECT_GE(checked, 10u);
}

}  // namespace
}  // namespace delayq
