// A topic's dead tasks in bulk against the real binary: dead:redrive and dead:delete take at
// most their limit (default 1,000) per call and say whether more remain; redriven tasks are
// delivered again, deleted ones are gone; the rate series counts the adds, firings and
// failures; bad limits are refused by name.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>
#include <string>

#include "support/served.h"

namespace delayq {
namespace {

namespace json = boost::json;

class DeadBulk : public ::testing::Test, protected testing::Served {
 protected:
  void SetUp() override { StartServer(); }

  json::value Call(std::string_view method, const std::string& target, const std::string& body = "",
                   int expect = 200) {
    int status = 0;
    json::value reply = CallJson(method, target, body, &status);
    EXPECT_EQ(status, expect) << method << " " << target << ": "
                              << json::serialize(reply).substr(0, 300);
    return reply;
  }

  // `n` tasks of `topic` with one attempt each, added, pulled and nacked: dead.
  std::set<std::string> MakeDead(const std::string& topic, int n) {
    std::set<std::string> ids;
    for (int done = 0; done < n;) {
      int chunk = std::min(1000, n - done);
      json::array tasks;
      for (int i = 0; i < chunk; ++i) tasks.push_back({{"payload", i}, {"max_attempts", 1}});
      json::value added = Call("POST", "/v1/topics/" + topic + "/tasks:batch",
                               json::serialize(json::object{{"tasks", tasks}}), 201);
      for (const auto& id : added.at("ids").as_array()) ids.insert(std::string(id.as_string()));
      done += chunk;
    }
    NackAll(topic, n);
    return ids;
  }

  // Pulls `n` tasks of `topic` (waiting for them to fall due) and nacks them all.
  void NackAll(const std::string& topic, int n) {
    for (int left = n; left > 0;) {
      json::value pulled = Call("POST", "/v1/topics/" + topic + "/pull",
                                R"({"max":1000,"wait_ms":5000,"lease_ms":60000})");
      const json::array& tasks = pulled.at("tasks").as_array();
      ASSERT_FALSE(tasks.empty()) << left << " tasks never came";
      json::array nacks;
      for (const auto& t : tasks) nacks.push_back({{"id", t.at("id")}, {"lease", t.at("lease")}});
      Call("POST", "/v1/tasks:nack", json::serialize(json::object{{"nacks", nacks}}));
      left -= static_cast<int>(tasks.size());
    }
  }

  int64_t Dead(const std::string& topic) {
    return Call("GET", "/v1/topics/" + topic).at("counts").at("dead").as_int64();
  }
};

TEST_F(DeadBulk, RedriveTakesAThousandPerCallAndTheTasksAreDeliveredAgain) {
  std::set<std::string> ids = MakeDead("dlq", 1200);
  ASSERT_EQ(Dead("dlq"), 1200);
  MakeDead("kept", 3);

  json::value first = Call("POST", "/v1/topics/dlq/dead:redrive", "");
  EXPECT_EQ(first.at("redriven").as_int64(), 1000);
  EXPECT_TRUE(first.at("more").as_bool());
  EXPECT_EQ(Dead("dlq"), 200);
  json::value rest = Call("POST", "/v1/topics/dlq/dead:redrive", R"({"limit":1000})");
  EXPECT_EQ(rest.at("redriven").as_int64(), 200);
  EXPECT_FALSE(rest.at("more").as_bool());
  EXPECT_EQ(Dead("dlq"), 0);
  EXPECT_EQ(Dead("kept"), 3) << "another topic's dead tasks were redriven";

  // Every redriven task is handed out again, each once, as attempt 1.
  std::set<std::string> again;
  while (again.size() < ids.size()) {
    json::value pulled =
        Call("POST", "/v1/topics/dlq/pull", R"({"max":1000,"wait_ms":5000,"lease_ms":60000})");
    const json::array& tasks = pulled.at("tasks").as_array();
    ASSERT_FALSE(tasks.empty()) << again.size() << " of " << ids.size() << " came back";
    for (const auto& t : tasks) {
      EXPECT_TRUE(again.insert(std::string(t.at("id").as_string())).second) << "twice";
      EXPECT_EQ(t.at("attempt").as_int64(), 1);
    }
  }
  EXPECT_EQ(again, ids);

  // The rate series counted the adds, the first firings and the failed attempts.
  json::value rates = Call("GET", "/v1/stats/rates?seconds=600");
  int64_t added = 0, fired = 0, failed = 0;
  for (const auto& s : rates.at("seconds").as_array()) {
    added += s.at("added").as_int64();
    fired += s.at("fired").as_int64();
    failed += s.at("failed").as_int64();
  }
  EXPECT_EQ(added, 1203);
  EXPECT_EQ(failed, 1203);
  EXPECT_GE(fired, 1203);
}

TEST_F(DeadBulk, DeleteRemovesAtMostItsLimitAndTheTasksAreGone) {
  std::set<std::string> ids = MakeDead("dlq", 5);
  json::value first = Call("POST", "/v1/topics/dlq/dead:delete", R"({"limit":3})");
  EXPECT_EQ(first.at("deleted").as_int64(), 3);
  EXPECT_TRUE(first.at("more").as_bool());
  EXPECT_EQ(Dead("dlq"), 2);
  json::value rest = Call("POST", "/v1/topics/dlq/dead:delete", R"({"limit":3})");
  EXPECT_EQ(rest.at("deleted").as_int64(), 2);
  EXPECT_FALSE(rest.at("more").as_bool());
  for (const std::string& id : ids) Call("GET", "/v1/tasks/" + id, "", 404);
  EXPECT_TRUE(Call("GET", "/v1/topics/dlq/dead").at("tasks").as_array().empty());
  json::value none = Call("POST", "/v1/topics/dlq/dead:delete", "");
  EXPECT_EQ(none.at("deleted").as_int64(), 0);
  EXPECT_FALSE(none.at("more").as_bool());

  // Metrics count both kinds of bulk call.
  std::string metrics = client_->Request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("delayq_dead_deleted_total 5\n"), std::string::npos) << metrics;
}

TEST_F(DeadBulk, BadLimitsAreRefusedByName) {
  for (const char* body : {R"({"limit":0})", R"({"limit":1001})", R"({"limit":"ten"})", "[1]"}) {
    for (const char* op : {"dead:redrive", "dead:delete"}) {
      json::value reply = Call("POST", std::string("/v1/topics/dlq/") + op, body, 400);
      std::string text = json::serialize(reply);
      if (std::string_view(body).starts_with("{")) {
        EXPECT_NE(text.find("limit"), std::string::npos) << op << " " << body << ": " << text;
      }
    }
  }
  Call("GET", "/v1/topics/dlq/dead:redrive", "", 405);
}

// As the single redrive: the publish right on the topic; consuming it, or another topic's
// rights, is not enough.
class DeadBulkRights : public ::testing::Test, protected testing::Served {
 protected:
  void SetUp() override {
    StartWithConfig(
        "auth:\n  tokens:\n    - token: \"publisher-token-0123456789\"\n"
        "      topics: [dlq]\n      can: [publish]\n"
        "    - token: \"consumer-token-0123456789\"\n      topics: [dlq]\n      can: [consume]\n"
        "    - token: \"other-token-0123456789\"\n      topics: [other]\n      can: [publish]\n");
  }
  int Status(const std::string& path, const std::string& token) {
    return client_->Request("POST", path, "", {{"Authorization", "Bearer " + token}}).status;
  }
};

TEST_F(DeadBulkRights, NeedThePublishRightOnTheTopic) {
  for (const char* op : {"/v1/topics/dlq/dead:redrive", "/v1/topics/dlq/dead:delete"}) {
    EXPECT_EQ(Status(op, "publisher-token-0123456789"), 200) << op;
    EXPECT_EQ(Status(op, "consumer-token-0123456789"), 403) << op;
    EXPECT_EQ(Status(op, "other-token-0123456789"), 403) << op;
    EXPECT_EQ(client_->Request("POST", op, "").status, 401) << op;
  }
}

}  // namespace
}  // namespace delayq
