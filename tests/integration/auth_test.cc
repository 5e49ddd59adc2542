// Bearer tokens: every endpoint but /healthz is closed once tokens
// are configured; topic tokens are limited to their topics and rights.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>

#include "support/http_client.h"
#include "support/integration.h"
#include "support/served.h"
#include "support/server_process.h"
#include "support/temp_dir.h"

namespace delayq {
namespace {

using namespace delayq::integration;
namespace json = boost::json;

constexpr const char* kAdmin = "admin-token-0123456789";
constexpr const char* kPublisher = "orders-publisher-token";
constexpr const char* kConsumer = "orders-consumer-token0";

class Auth : public ::testing::Test, protected testing::Served {
 protected:
  void SetUp() override {
    StartWithConfig(std::string("auth:\n  tokens:\n    - \"") + kAdmin + "\"\n" +
                    "    - token: \"" + kPublisher + "\"\n      topics: [orders]\n" +
                    "      can: [publish]\n" + "    - token: \"" + kConsumer +
                    "\"\n      topics: [orders]\n" + "      can: [consume]\n");
  }

  testing::HttpResponse Send(const std::string& method, const std::string& target,
                             const std::string& body, const std::string& token) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    return client_->Request(method, target, body, headers);
  }

  int64_t DmError(const testing::HttpResponse& r) {
    return json::parse(r.body).at("dm_error").to_number<int64_t>();
  }

  std::string AddOrder(const std::string& token) {
    auto r = Send("POST", "/v1/topics/orders/tasks", R"({"payload":"x"})", token);
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(json::parse(r.body).at("id").as_string());
  }
};

struct Endpoint {
  std::string method;
  std::string target;
  std::string body;
};

std::vector<Endpoint> AllEndpoints(const std::string& id) {
  return {
      {"POST", "/delay/task/add", R"({"topic":"orders","timing_moment":1,"content":"x"})"},
      {"POST", "/delay/task/pull", R"({"topic":"orders"})"},
      {"POST", "/v1/topics/orders/tasks", R"({"payload":"x"})"},
      {"POST", "/v1/topics/orders/tasks:batch", R"({"tasks":[{"payload":"x"}]})"},
      {"POST", "/v1/topics/orders/pull", R"({"max":1})"},
      {"GET", "/v1/tasks/" + id, ""},
      {"DELETE", "/v1/tasks/" + id, ""},
      {"POST", "/v1/tasks/" + id + "/ack", R"({"lease":"00000000000000ff"})"},
      {"POST", "/v1/tasks/" + id + "/nack", R"({"lease":"00000000000000ff"})"},
      {"POST", "/v1/tasks:ack", R"({"acks":[{"id":")" + id + R"(","lease":"00000000000000ff"}]})"},
      {"POST", "/v1/tasks:nack",
       R"({"nacks":[{"id":")" + id + R"(","lease":"00000000000000ff"}]})"},
      {"POST", "/v1/tasks/" + id + "/reschedule", R"({"delay_ms":10})"},
      {"POST", "/v1/tasks/" + id + "/redrive", ""},
      {"GET", "/v1/topics", ""},
      {"GET", "/v1/topics/orders", ""},
      {"GET", "/v1/topics/orders/dead", ""},
      {"GET", "/readyz", ""},
      {"GET", "/metrics", ""},
      {"GET", "/nonexistent", ""},
  };
}

TEST_F(Auth, EveryEndpointButHealthzRefusesMissingOrWrongTokens) {
  std::string id = AddOrder(kAdmin);
  for (const Endpoint& e : AllEndpoints(id)) {
    for (const std::string& token : {std::string(), std::string("wrong-token-0123456789")}) {
      auto r = Send(e.method, e.target, e.body, token);
      EXPECT_EQ(r.status, 401) << e.method << " " << e.target << " token '" << token << "'";
      EXPECT_EQ(DmError(r), 4) << e.target;
    }
  }
  // A malformed header is no token either.
  auto basic = client_->Request("GET", "/v1/topics", "", {{"Authorization", "Basic abc"}});
  EXPECT_EQ(basic.status, 401);
  EXPECT_EQ(client_->Get("/healthz").status, 200);
  // Nothing was added by the refused calls: only the admin's task exists.
  auto topic = Send("GET", "/v1/topics/orders", "", kAdmin);
  EXPECT_EQ(json::parse(topic.body).at("counts").at("scheduled").as_int64(), 1);
}

TEST_F(Auth, AdminTokenMayDoEverything) {
  std::string id = AddOrder(kAdmin);
  for (const Endpoint& e : AllEndpoints(id)) {
    auto r = Send(e.method, e.target, e.body, kAdmin);
    EXPECT_NE(r.status, 401) << e.target;
    EXPECT_NE(r.status, 403) << e.target;
  }
}

TEST_F(Auth, APublisherTokenPublishesToItsTopicOnly) {
  AddOrder(kPublisher);
  auto seed = Send("POST", "/delay/task/add",
                   R"({"topic":"orders","timing_moment":1,"content":"x"})", kPublisher);
  EXPECT_EQ(seed.status, 200);
  auto other = Send("POST", "/v1/topics/payments/tasks", R"({"payload":"x"})", kPublisher);
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(DmError(other), 4);
  EXPECT_NE(json::parse(other.body).at("error_msg").as_string().find("payments"),
            std::string::npos);
  auto seed_other = Send("POST", "/delay/task/add",
                         R"({"topic":"payments","timing_moment":1,"content":"x"})", kPublisher);
  EXPECT_EQ(seed_other.status, 403);
  EXPECT_EQ(Send("POST", "/v1/topics/orders/pull", "", kPublisher).status, 403);
  EXPECT_EQ(Send("POST", "/delay/task/pull", R"({"topic":"orders"})", kPublisher).status, 403);
  EXPECT_EQ(Send("GET", "/v1/topics", "", kPublisher).status, 403);
  EXPECT_EQ(Send("GET", "/metrics", "", kPublisher).status, 403);
}

TEST_F(Auth, AConsumerTokenConsumesItsTopicOnly) {
  std::string id = AddOrder(kAdmin);
  std::string paid = std::string(
      json::parse(Send("POST", "/v1/topics/payments/tasks", R"({"payload":"p"})", kAdmin).body)
          .at("id")
          .as_string());
  auto pulled = Send("POST", "/v1/topics/orders/pull", R"({"max":1,"wait_ms":1000})", kConsumer);
  ASSERT_EQ(pulled.status, 200) << pulled.body;
  auto task = json::parse(pulled.body).at("tasks").as_array().at(0);
  EXPECT_EQ(task.at("id").as_string(), id);
  auto ack = Send("POST", "/v1/tasks/" + id + "/ack",
                  R"({"lease":")" + std::string(task.at("lease").as_string()) + R"("})", kConsumer);
  EXPECT_EQ(ack.status, 200) << ack.body;
  EXPECT_EQ(Send("POST", "/v1/topics/orders/tasks", R"({"payload":"x"})", kConsumer).status, 403);
  EXPECT_EQ(Send("POST", "/v1/topics/payments/pull", "", kConsumer).status, 403);
  // A topic token cannot touch another topic's task, even by id, nor learn that it exists:
  // the answer is byte for byte the one for an id that does not exist.
  auto other_task = Send("GET", "/v1/tasks/" + paid, "", kConsumer);
  EXPECT_EQ(other_task.status, 404);
  std::string unknown_id = std::to_string(std::stoull(paid) + 1);
  auto unknown = Send("GET", "/v1/tasks/" + unknown_id, "", kConsumer);
  EXPECT_EQ(unknown.status, 404);
  auto strip = [](std::string body, const std::string& id) {
    return body.replace(body.find(id), id.size(), "ID");
  };
  EXPECT_EQ(strip(other_task.body, paid), strip(unknown.body, unknown_id));
  EXPECT_EQ(Send("DELETE", "/v1/tasks/" + paid, "", kPublisher).status, 404);
  // Its own topic but a right it lacks: 403 (it may already see that topic's tasks).
  EXPECT_EQ(Send("DELETE", "/v1/tasks/" + id, "", kConsumer).status, 403);
  EXPECT_EQ(Send("GET", "/v1/tasks/" + id, "", kConsumer).status, 200);
}

// A batch acknowledgement is authorized per item, as the single ack of each would be: items of
// the token's topics are applied, another topic's task is refused as unknown (404) and a task
// of its topic without the consume right as forbidden (403), each in its own result.
TEST_F(Auth, BatchAckAuthorizesEachItemOnItsOwnTasksTopic) {
  std::string first = AddOrder(kAdmin);
  std::string second = AddOrder(kAdmin);
  auto paid = Send("POST", "/v1/topics/payments/tasks", R"({"payload":"p"})", kAdmin);
  ASSERT_EQ(paid.status, 201) << paid.body;
  auto lease_of = [&](const std::string& topic, const std::string& token) {
    std::map<std::string, std::string> leases;
    auto pulled =
        Send("POST", "/v1/topics/" + topic + "/pull", R"({"max":10,"wait_ms":1000})", token);
    EXPECT_EQ(pulled.status, 200) << pulled.body;
    json::value answer = json::parse(pulled.body);  // kept: the loop refers into it
    for (const json::value& task : answer.at("tasks").as_array()) {
      leases[std::string(task.at("id").as_string())] = std::string(task.at("lease").as_string());
    }
    return leases;
  };
  std::map<std::string, std::string> orders = lease_of("orders", kConsumer);
  ASSERT_EQ(orders.size(), 2u);
  std::map<std::string, std::string> payments = lease_of("payments", kAdmin);
  ASSERT_EQ(payments.size(), 1u);
  const auto& [paid_id, paid_lease] = *payments.begin();
  auto item = [](const std::string& id, const std::string& lease) {
    return R"({"id":")" + id + R"(","lease":")" + lease + R"("})";
  };

  auto acked = Send("POST", "/v1/tasks:ack",
                    R"({"acks":[)" + item(first, orders[first]) + "," + item(paid_id, paid_lease) +
                        "," + item(second, orders[second]) + "]}",
                    kConsumer);
  ASSERT_EQ(acked.status, 200) << acked.body;
  json::array results = json::parse(acked.body).at("results").as_array();
  ASSERT_EQ(results.size(), 3u) << acked.body;
  EXPECT_EQ(json::serialize(results[0]), R"({"id":")" + first + R"(","state":"done"})");
  EXPECT_EQ(json::serialize(results[1]), R"({"id":")" + paid_id +
                                             R"(","error":{"code":404,"message":"task )" + paid_id +
                                             R"( not found"}})");
  EXPECT_EQ(json::serialize(results[2]), R"({"id":")" + second + R"(","state":"done"})");
  auto paid_task = Send("GET", "/v1/tasks/" + paid_id, "", kAdmin);
  EXPECT_EQ(json::parse(paid_task.body).at("state"), "leased") << paid_task.body;

  // The publisher may see orders' tasks but not consume them.
  std::string third = AddOrder(kAdmin);
  std::map<std::string, std::string> held = lease_of("orders", kAdmin);
  ASSERT_EQ(held.count(third), 1u);
  auto refused =
      Send("POST", "/v1/tasks:nack", R"({"nacks":[)" + item(third, held[third]) + "]}", kPublisher);
  ASSERT_EQ(refused.status, 200) << refused.body;
  EXPECT_EQ(
      json::serialize(json::parse(refused.body).at("results")),
      R"([{"id":")" + third +
          R"(","error":{"code":403,"message":"this token may not consume from topic 'orders'"}}])");
  auto third_task = Send("GET", "/v1/tasks/" + third, "", kAdmin);
  EXPECT_EQ(json::parse(third_task.body).at("state"), "leased") << third_task.body;
}

}  // namespace
}  // namespace delayq
