// Restart safety (Foundation must-show 3): adds from several connections, SIGKILL in the
// middle, restart; every acknowledged add is still there and fires exactly once.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <thread>

#include "support/http_client.h"
#include "support/integration.h"
#include "support/server_process.h"
#include "support/temp_dir.h"

namespace delayq {
namespace {

using namespace delayq::integration;
namespace json = boost::json;

constexpr int kConnections = 8;
constexpr int kAddsPerConnection = 1500;  // 12,000 attempted in all
constexpr size_t kKillAfterAcked = 6000;  // SIGKILL once this many were acknowledged

// Runs the add load against `server`, kills it mid-way, and returns id -> content of every
// acknowledged add.
std::map<uint64_t, std::string> AddUntilKilled(ServerProcess& server, const std::string& topic,
                                               size_t* attempted) {
  std::mutex mu;
  std::map<uint64_t, std::string> acked;
  std::atomic<size_t> acked_count{0};
  std::atomic<size_t> sent{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&, c] {
      HttpClient client(server.address(), std::chrono::seconds(5));
      for (int i = 0; i < kAddsPerConnection; ++i) {
        std::string content = "c" + std::to_string(c) + "-" + std::to_string(i);
        sent.fetch_add(1);
        auto response = client.Post(
            "/delay/task/add",
            R"({"topic":")" + topic + R"(","timing_moment":1,"content":")" + content + R"("})");
        if (!response.ok()) return;  // the server is gone
        auto body = json::parse(response.body);
        if (body.at("dm_error").as_int64() != 0) continue;
        std::lock_guard lock(mu);
        acked[body.at("task_id").to_number<uint64_t>()] = content;
        acked_count.fetch_add(1);
      }
    });
  }
  EXPECT_TRUE(testing::WaitFor([&] { return acked_count.load() >= kKillAfterAcked; },
                               std::chrono::seconds(120)));
  server.Kill();
  for (auto& thread : threads) thread.join();
  *attempted = sent.load();
  return acked;
}

// Pulls the topic until it is empty; returns id -> (content, times seen).
std::map<uint64_t, std::pair<std::string, int>> Drain(const std::string& address,
                                                      const std::string& topic) {
  std::map<uint64_t, std::pair<std::string, int>> seen;
  HttpClient client(address);
  for (;;) {
    auto response = client.Post("/delay/task/pull", R"({"topic":")" + topic + R"("})");
    EXPECT_EQ(response.status, 200);
    if (response.status != 200) break;
    auto body = json::parse(response.body).as_object();
    uint64_t id = body.at("task_id").to_number<uint64_t>();
    if (id == 0) break;
    auto& entry = seen[id];
    entry.first = std::string(body.at("content").as_string());
    entry.second += 1;
  }
  return seen;
}

TEST(RestartSafety, EveryAcknowledgedAddSurvivesSigkillAndFiresExactlyOnce) {
  TempDir dir;
  ServerProcess server(dir.Sub("data"));
  ASSERT_TRUE(server.Start()) << server.last_error();
  size_t attempted = 0;
  auto acked = AddUntilKilled(server, "crash", &attempted);
  ASSERT_GE(acked.size(), kKillAfterAcked);
  EXPECT_LT(acked.size(), attempted) << "the kill should land in the middle of the load";

  ASSERT_TRUE(server.Start()) << server.last_error();
  auto delivered = Drain(server.address(), "crash");
  size_t missing = 0;
  for (const auto& [id, content] : acked) {
    auto it = delivered.find(id);
    if (it == delivered.end()) {
      ++missing;
      continue;
    }
    EXPECT_EQ(it->second.first, content) << id;
    EXPECT_EQ(it->second.second, 1) << "delivered more than once: " << id;
  }
  EXPECT_EQ(missing, 0u) << "acknowledged tasks lost after SIGKILL";
  // Adds written but not acknowledged before the kill may also appear: that is allowed.
  size_t unacknowledged = delivered.size() - (acked.size() - missing);
  std::cout << "attempted=" << attempted << " acknowledged=" << acked.size()
            << " delivered=" << delivered.size()
            << " delivered_but_unacknowledged=" << unacknowledged << "\n";

  // Consumption is remembered across a clean restart: nothing comes back.
  EXPECT_EQ(server.Terminate(), 0);
  ASSERT_TRUE(server.Start()) << server.last_error();
  EXPECT_TRUE(Drain(server.address(), "crash").empty());
}

}  // namespace
}  // namespace delayq
