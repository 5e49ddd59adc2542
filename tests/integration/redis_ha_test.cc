// Redis high availability beyond the cluster: a Sentinel-managed master that is killed, and
// redis.wait_replicas holding an add until a replica has it.
#include <gtest/gtest.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "support/delivery_ledger.h"
#include "support/http_client.h"
#include "support/integration.h"
#include "support/redis_server.h"
#include "support/server_process.h"
#include "support/temp_dir.h"
#include "support/test_util.h"

namespace delayq {
namespace {

using namespace delayq::integration;
using testing::DeliveryLedger;
using testing::RedisServer;

std::string Port(int port) { return "127.0.0.1:" + std::to_string(port); }

std::vector<std::string> StoreFlags(const std::string& url) {
  return {"--store",
          "redis",
          "--redis-url",
          url,
          "--redis-poll-interval",
          "20ms",
          "--redis-command-timeout",
          "1s"};
}

// One master, two replicas, three sentinels (quorum 2, down-after 1 s). The master is
// SIGKILLed under adds and pulls: delayq asks the sentinels again, follows the promoted
// replica, and every acknowledged add is delivered; no add answered a plain 503 is.
TEST(RedisSentinelMode, MasterKilledFollowsTheNewMasterLosingNothingAcknowledged) {
  testing::TempDir dir;
  RedisServer master(dir.Sub("master"));
  ASSERT_TRUE(master.Start());
  std::vector<std::unique_ptr<RedisServer>> replicas;
  for (int i = 0; i < 2; ++i) {
    replicas.push_back(std::make_unique<RedisServer>(
        dir.Sub("replica" + std::to_string(i)),
        std::vector<std::string>{"--replicaof", "127.0.0.1", std::to_string(master.port())}));
    ASSERT_TRUE(replicas.back()->Start());
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        return master.Cli("INFO replication").find("connected_slaves:2") != std::string::npos;
      },
      std::chrono::seconds(20)));
  std::vector<std::unique_ptr<RedisServer>> sentinels;
  std::string sentinel_list;
  for (int i = 0; i < 3; ++i) {
    sentinels.push_back(
        RedisServer::Sentinel(dir.Sub("sentinel" + std::to_string(i)), "dq", master.port()));
    ASSERT_TRUE(sentinels.back()->Start());
    sentinel_list += (i ? "," : "") + Port(sentinels.back()->port());
  }
  std::vector<std::string> flags = StoreFlags(master.url());
  flags.insert(flags.end(), {"--redis-sentinels", sentinel_list, "--redis-sentinel-master", "dq",
                             "--redis-wait-replicas", "1"});
  ServerProcess server(dir.Sub("delayq"), flags);
  ASSERT_TRUE(server.Start()) << server.last_error();

  DeliveryLedger ledger;
  ledger.StartLoad(server.address(), {"s"}, "t");
  ASSERT_TRUE(WaitFor([&] { return ledger.acknowledged() >= 300; }, std::chrono::seconds(30)));
  int64_t killed_at = WallClockMs();
  master.Kill();
  HttpClient probe(server.address(), std::chrono::seconds(10));
  EXPECT_TRUE(WaitFor([&] { return probe.Get("/readyz").status == 503; }, std::chrono::seconds(10)))
      << "/readyz never said not ready";
  // The sentinels promote a replica: down-after 1 s, then the election.
  ASSERT_TRUE(WaitFor(
      [&] {
        return sentinels[0]
                   ->Cli("SENTINEL get-master-addr-by-name dq")
                   .find(std::to_string(master.port())) == std::string::npos;
      },
      std::chrono::seconds(20)))
      << "the sentinels did not promote a replica";
  int64_t promoted_ms = WallClockMs() - killed_at;
  // Stated bound: back within 3 s of the promotion (the refresh backs off to 1 s at most,
  // and the other replica must re-attach for WAIT 1).
  ASSERT_TRUE(WaitFor([&] { return ledger.last_ok_ms() > killed_at + promoted_ms; },
                      std::chrono::seconds(10)))
      << "adds did not resume after the promotion; last answer: " << ledger.last_message();
  int64_t recovered_ms = WallClockMs() - killed_at;
  EXPECT_LT(recovered_ms - promoted_ms, 5000);
  EXPECT_TRUE(
      WaitFor([&] { return probe.Get("/readyz").status == 200; }, std::chrono::seconds(10)));
  size_t before = ledger.acknowledged();
  ASSERT_TRUE(
      WaitFor([&] { return ledger.acknowledged() >= before + 300; }, std::chrono::seconds(30)));
  ledger.StopLoad();
  ledger.Drain(probe, {"s"}, std::chrono::seconds(30));
  EXPECT_EQ(ledger.Lost(), 0u) << ledger.Summary();
  EXPECT_EQ(ledger.RefusedDelivered(), 0u) << "adds answered a plain 503 were delivered";
  EXPECT_EQ(ledger.other(), 0);
  std::cout << ledger.Summary() << "; promoted after " << promoted_ms << " ms, adds back after "
            << recovered_ms << " ms\n";
}

// redis.wait_replicas 1 with the only replica SIGSTOPped: an add waits for
// redis.wait_timeout and answers "outcome unknown" (the master has it, no replica does);
// after SIGCONT adds are acknowledged again.
TEST(RedisWaitReplicas, PausedReplicaMakesAddsOutcomeUnknown) {
  testing::TempDir dir;
  RedisServer master(dir.Sub("master"));
  ASSERT_TRUE(master.Start());
  RedisServer replica(dir.Sub("replica"),
                      {"--replicaof", "127.0.0.1", std::to_string(master.port())});
  ASSERT_TRUE(replica.Start());
  ASSERT_TRUE(WaitFor(
      [&] {
        return master.Cli("INFO replication").find("connected_slaves:1") != std::string::npos;
      },
      std::chrono::seconds(20)));
  std::vector<std::string> flags = StoreFlags(master.url());
  flags.insert(flags.end(), {"--redis-wait-replicas", "1", "--redis-wait-timeout", "700ms"});
  ServerProcess server(dir.Sub("delayq"), flags);
  ASSERT_TRUE(server.Start()) << server.last_error();
  HttpClient client(server.address(), std::chrono::seconds(10));
  auto add = [&](const std::string& content) {
    return client.Post("/v1/topics/w/tasks", R"({"delay_ms":0,"payload":")" + content + "\"}");
  };
  // The replica's first sync may still be running: WAIT counts it once it acknowledges.
  ASSERT_TRUE(WaitFor([&] { return add("before").status == 201; }, std::chrono::seconds(10)));

  replica.Pause();
  int64_t sent = WallClockMs();
  auto unconfirmed = add("paused");
  int64_t took = WallClockMs() - sent;
  EXPECT_EQ(unconfirmed.status, 503) << unconfirmed.body;
  EXPECT_NE(unconfirmed.body.find("outcome unknown"), std::string::npos) << unconfirmed.body;
  EXPECT_NE(unconfirmed.body.find("replicas confirmed"), std::string::npos) << unconfirmed.body;
  // It waited for the timeout: WAIT did not return early.
  EXPECT_GE(took, 650) << unconfirmed.body;

  replica.Resume();
  ASSERT_TRUE(WaitFor([&] { return add("after").status == 201; }, std::chrono::seconds(10)));
  // The master did take the unconfirmed add: "outcome unknown", not "refused".
  auto pulled = client.Post("/v1/topics/w/pull", R"({"max":10})");
  EXPECT_NE(pulled.body.find("\"paused\""), std::string::npos) << pulled.body;
}

}  // namespace
}  // namespace delayq
