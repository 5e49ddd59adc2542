// HTTP/1.1 pipelining against the real binary (http/session.cc): requests a client sends
// without waiting are all answered, in order; a GET sent after state changes sees them;
// a malformed request behind good ones is refused after their answers.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/integration.h"
#include "support/served.h"
#include "support/server_process.h"
#include "support/temp_dir.h"

namespace delayq {
namespace {

using namespace delayq::integration;
namespace json = boost::json;

std::string PostBytes(const std::string& target, const std::string& body) {
  return "POST " + target + " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string GetBytes(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

class Pipelining : public ::testing::Test, protected testing::Served {
 protected:
  void SetUp() override { StartServer(); }

  // Adds `count` pull tasks due now to `topic` and leases them all; returns (id, lease).
  std::vector<std::pair<std::string, std::string>> AddAndLease(const std::string& topic,
                                                               int count) {
    HttpClient client(server_->address());
    std::string tasks;
    for (int i = 0; i < count; ++i) {
      tasks += std::string(tasks.empty() ? "" : ",") + R"({"payload":)" + std::to_string(i) +
               R"(,"delay_ms":0})";
    }
    HttpResponse added =
        client.Post("/v1/topics/" + topic + "/tasks:batch", R"({"tasks":[)" + tasks + "]}");
    EXPECT_EQ(added.status, 201) << added.body;
    std::vector<std::pair<std::string, std::string>> leased;
    while (static_cast<int>(leased.size()) < count) {
      HttpResponse pulled = client.Post("/v1/topics/" + topic + "/pull",
                                        R"({"max":1000,"wait_ms":2000,"lease_ms":60000})");
      EXPECT_EQ(pulled.status, 200) << pulled.body;
      json::array got = json::parse(pulled.body).at("tasks").as_array();
      if (got.empty()) break;
      for (const auto& task : got) {
        leased.emplace_back(std::string(task.at("id").as_string()),
                            std::string(task.at("lease").as_string()));
      }
    }
    EXPECT_EQ(static_cast<int>(leased.size()), count);
    return leased;
  }
};

TEST_F(Pipelining, PipelinedAcksAreAllAnsweredInOrderAndAGetBehindThemSeesThem) {
  auto leased = AddAndLease("piped", 300);
  ASSERT_EQ(leased.size(), 300u);
  // Every ack once, then the first one again (stale now: 409), then a GET of the last task.
  std::string bytes;
  for (const auto& [id, lease] : leased) {
    bytes += PostBytes("/v1/tasks/" + id + "/ack", R"({"lease":")" + lease + R"("})");
  }
  bytes += PostBytes("/v1/tasks/" + leased[0].first + "/ack",
                     R"({"lease":")" + leased[0].second + R"("})");
  bytes += GetBytes("/v1/tasks/" + leased.back().first);
  HttpClient raw(server_->address());
  ASSERT_TRUE(raw.Connect());
  ASSERT_TRUE(raw.SendRaw(bytes));  // all of it at once, before reading any answer
  for (size_t i = 0; i < leased.size(); ++i) {
    HttpResponse acked = raw.ReadResponse();
    ASSERT_EQ(acked.status, 200) << "ack " << i << ": " << acked.body;
    // In order: each answer is the one of its own request.
    EXPECT_EQ(std::string(json::parse(acked.body).at("id").as_string()), leased[i].first);
  }
  EXPECT_EQ(raw.ReadResponse().status, 409);
  HttpResponse got = raw.ReadResponse();
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json::parse(got.body).at("state").as_string(), "done");
}

TEST_F(Pipelining, AMalformedRequestBehindGoodOnesIsRefusedAfterTheirAnswers) {
  auto leased = AddAndLease("bad-after", 3);
  ASSERT_EQ(leased.size(), 3u);
  std::string bytes;
  for (const auto& [id, lease] : leased) {
    bytes += PostBytes("/v1/tasks/" + id + "/ack", R"({"lease":")" + lease + R"("})");
  }
  bytes += "POST /v1/topics/x/tasks HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n";
  HttpClient raw(server_->address());
  ASSERT_TRUE(raw.Connect());
  ASSERT_TRUE(raw.SendRaw(bytes));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(raw.ReadResponse().status, 200) << "ack " << i;
  HttpResponse refused = raw.ReadResponse();
  EXPECT_EQ(refused.status, 400) << refused.body;
  EXPECT_TRUE(raw.WaitClosed());
}

}  // namespace
}  // namespace delayq
