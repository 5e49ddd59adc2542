// Distributed mode: delayq instances sharing a real redis-server (or a real
// 3-master Redis Cluster), each started by the test on loopback with AOF on.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "support/callback_receiver.h"
#include "support/delivery_ledger.h"
#include "support/http_client.h"
#include "support/integration.h"
#include "support/redis_server.h"
#include "support/server_process.h"
#include "support/temp_dir.h"
#include "support/test_util.h"

namespace delayq {
namespace {

namespace json = boost::json;
using namespace delayq::integration;
using testing::DeliveryLedger;
using testing::RedisCluster;
using testing::RedisServer;

// Callback timeout 3 s: short, so that the delivering leases a killed instance held (timeout
// + 5 s) run out soon, yet long enough that a call which only waited under load (10,000
// callbacks into one receiver, in a ThreadSanitizer build beside other tests) is not timed
// out and retried while every instance is alive, which the test counts as a defect.
std::vector<std::string> RedisFlags(const std::string& url) {
  return {"--store",
          "redis",
          "--redis-url",
          url,
          "--redis-poll-interval",
          "20ms",
          "--callbacks-timeout",
          "3s"};
}

json::value Parse(const std::string& body) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  return ec ? json::value() : value;
}

// Adds `count` tasks to `topic` in batches through `client`; returns the ids acknowledged.
std::vector<std::string> AddBatch(HttpClient& client, const std::string& topic, size_t count,
                                  int64_t first_due_ms, int64_t spread_ms,
                                  const std::string& callback, std::mt19937& rng) {
  std::vector<std::string> ids;
  std::uniform_int_distribution<int64_t> offset(0, spread_ms);
  for (size_t done = 0; done < count;) {
    size_t n = std::min<size_t>(500, count - done);
    json::array tasks;
    for (size_t i = 0; i < n; ++i) {
      json::object task{{"payload", json::object{{"n", done + i}}},
                        {"due_at_ms", first_due_ms + offset(rng)}};
      if (!callback.empty()) task["callback"] = json::object{{"url", callback}};
      tasks.push_back(std::move(task));
    }
    auto response = client.Post("/v1/topics/" + topic + "/tasks:batch",
                                json::serialize(json::object{{"tasks", std::move(tasks)}}));
    EXPECT_EQ(response.status, 201) << response.body;
    if (response.status != 201) break;
    json::value answer = Parse(response.body);  // kept: the loop below refers into it
    for (const auto& id : answer.at("ids").as_array()) ids.emplace_back(id.as_string());
    done += n;
  }
  return ids;
}

struct Delivery {
  int64_t at_ms;
  int attempt;
  int via;  // instance index (pull) or -1 (callback)
};

class DistributedMode : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.Start()) << "redis-server did not start"; }

  ServerProcess& StartInstance(const std::string& url) {
    size_t n = instances_.size();
    instances_.push_back(
        std::make_unique<ServerProcess>(dir_.Sub("i" + std::to_string(n)), RedisFlags(url)));
    EXPECT_TRUE(instances_.back()->Start()) << instances_.back()->last_error();
    return *instances_.back();
  }

  testing::TempDir dir_;
  RedisServer redis_{dir_.Sub("redis")};
  std::vector<std::unique_ptr<ServerProcess>> instances_;
};

// Three instances, 20,000 tasks due within a few seconds, pull consumers on each instance and
// a callback receiver; one instance is SIGKILLed in the middle. Every task is delivered; no
// task is ever delivered twice for the same attempt (two instances never claim it at once);
// the only repeats are tasks the killed side held, delivered again after their lease ran out.
TEST_F(DistributedMode, ThreeInstancesDeliverEveryTaskWhileOneIsKilled) {
  for (int i = 0; i < 3; ++i) StartInstance(redis_.url());
  ASSERT_EQ(instances_.size(), 3u);
  CallbackReceiver receiver;
  const std::vector<std::string> pull_topics{"p0", "p1", "p2", "p3"};
  const std::vector<std::string> callback_topics{"c0", "c1"};

  std::mt19937 rng(42);
  std::set<std::string> pull_ids, callback_ids;
  int64_t first_due = WallClockMs() + 2000;
  {
    std::vector<std::unique_ptr<HttpClient>> adders;
    for (auto& instance : instances_)
      adders.push_back(std::make_unique<HttpClient>(instance->address()));
    size_t k = 0;
    for (const auto& topic : pull_topics) {
      for (const auto& id : AddBatch(*adders[k++ % 3], topic, 2500, first_due, 3000, "", rng))
        pull_ids.insert(id);
    }
    for (const auto& topic : callback_topics) {
      for (const auto& id : AddBatch(*adders[k++ % 3], topic, 5000, first_due, 3000,
                                     receiver.base_url() + "/cb", rng)) {
        callback_ids.insert(id);
      }
    }
  }
  ASSERT_EQ(pull_ids.size(), 10'000u);
  ASSERT_EQ(callback_ids.size(), 10'000u);

  // Pull consumers: one per instance. The one on the victim never acks (it dies with it),
  // so its leases must run out and the tasks go to the others.
  constexpr int kVictim = 2;
  constexpr int64_t kLeaseMs = 3000;
  std::mutex mu;
  std::map<std::string, std::vector<Delivery>> pulled;
  std::map<std::string, int64_t> victim_lease_until;
  std::atomic<bool> stop{false};
  std::atomic<size_t> acked{0};
  std::vector<std::thread> consumers;
  for (int c = 0; c < 3; ++c) {
    consumers.emplace_back([&, c] {
      HttpClient client(instances_[c]->address(), std::chrono::seconds(5));
      size_t t = static_cast<size_t>(c);
      while (!stop) {
        const std::string& topic = pull_topics[t++ % pull_topics.size()];
        auto response =
            client.Post("/v1/topics/" + topic + "/pull",
                        R"({"max":100,"wait_ms":200,"lease_ms":)" + std::to_string(kLeaseMs) + "}");
        if (response.status != 200) {
          if (c == kVictim) return;  // its instance is gone
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        int64_t now = WallClockMs();
        json::value answer = Parse(response.body);
        for (const auto& item : answer.at("tasks").as_array()) {
          std::string id(item.at("id").as_string());
          int attempt = static_cast<int>(item.at("attempt").as_int64());
          {
            std::lock_guard lock(mu);
            pulled[id].push_back(Delivery{now, attempt, c});
            if (c == kVictim) victim_lease_until[id] = item.at("lease_until_ms").as_int64();
          }
          if (c == kVictim) continue;
          auto ack =
              client.Post("/v1/tasks/" + id + "/ack",
                          R"({"lease":")" + std::string(item.at("lease").as_string()) + "\"}");
          EXPECT_EQ(ack.status, 200) << id << " " << ack.body;
          if (ack.status == 200) ++acked;
        }
      }
    });
  }

  // Kill the victim while tasks are falling due, once its consumer holds some (on a slow
  // build the adds can take past the first due times, so a fixed moment alone could find it
  // holding nothing).
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard lock(mu);
        return WallClockMs() >= first_due + 1500 && !victim_lease_until.empty();
      },
      std::chrono::seconds(30)))
      << "the victim's consumer took nothing";
  instances_[kVictim]->Kill();
  int64_t killed_at = WallClockMs();

  auto callbacks_seen = [&] {
    std::set<std::string> ids;
    for (const auto& call : receiver.Calls("/cb")) ids.insert(call.headers.at("x-delayq-task-id"));
    return ids;
  };
  bool all = WaitFor(
      [&] {
        return acked.load() >= pull_ids.size() && callbacks_seen().size() >= callback_ids.size();
      },
      std::chrono::seconds(60));
  stop = true;
  for (auto& consumer : consumers) consumer.join();
  ASSERT_TRUE(all) << "acked " << acked << "/" << pull_ids.size() << ", callbacks "
                   << callbacks_seen().size() << "/" << callback_ids.size();

  // Pull: every task acked once; repeats only for what the victim's consumer held, and only
  // after that lease ran out.
  size_t redelivered_pull = 0;
  for (const auto& id : pull_ids) {
    ASSERT_TRUE(pulled.count(id)) << id;
    const auto& deliveries = pulled[id];
    std::set<int> attempts;
    for (const auto& d : deliveries)
      EXPECT_TRUE(attempts.insert(d.attempt).second) << id << " attempt twice";
    if (deliveries.size() > 1) {
      ++redelivered_pull;
      ASSERT_TRUE(victim_lease_until.count(id))
          << id << " delivered twice but never held by the victim";
      EXPECT_GE(deliveries.back().at_ms + 50, victim_lease_until[id])
          << id << " redelivered before its lease ran out";
    }
  }
  for (const auto& [id, until] : victim_lease_until) {
    EXPECT_GE(pulled[id].size(), 2u) << id << " held by the victim was not delivered again";
  }
  // Callbacks: each (task, attempt) at most once; repeats only after the kill.
  std::map<std::string, std::set<std::string>> attempts_by_id;
  size_t repeated_callbacks = 0;
  for (const auto& call : receiver.Calls("/cb")) {
    const std::string& id = call.headers.at("x-delayq-task-id");
    EXPECT_TRUE(callback_ids.count(id)) << id;
    EXPECT_TRUE(attempts_by_id[id].insert(call.headers.at("x-delayq-attempt")).second)
        << id << " delivered twice at attempt " << call.headers.at("x-delayq-attempt");
    if (call.headers.at("x-delayq-attempt") != "1") {
      ++repeated_callbacks;
      EXPECT_GT(call.at_ms, killed_at) << id << " repeated while every instance was alive";
    }
  }
  std::cout << "victim held " << victim_lease_until.size() << " pull tasks; pull redelivered "
            << redelivered_pull << "; callbacks repeated " << repeated_callbacks << "\n";
  EXPECT_GT(victim_lease_until.size(), 0u)
      << "the victim's consumer took nothing: the test proved nothing";
}

// Redis killed (SIGKILL) and restarted mid-load: adds answer 503 (dm_error 5) while it is
// down, delayq recovers by itself, and every acknowledged task is there afterwards (AOF with
// appendfsync always).
TEST_F(DistributedMode, RedisRestartLosesNoAcknowledgedTask) {
  ServerProcess& instance = StartInstance(redis_.url());
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::atomic<int> refused{0}, refused_other{0};
  std::thread adder([&] {
    HttpClient client(instance.address(), std::chrono::seconds(10));
    for (int n = 0; !stop; ++n) {
      auto response =
          client.Post("/delay/task/add", R"({"topic":"restart","timing_moment":1,"content":"n)" +
                                             std::to_string(n) + "\"}");
      json::value body = Parse(response.body);
      if (response.status == 200 && body.is_object() && body.at("dm_error").as_int64() == 0) {
        std::lock_guard lock(mu);
        acknowledged.push_back(std::to_string(body.at("task_id").as_int64()));
      } else if (response.status == 503 && body.is_object() &&
                 body.at("dm_error").as_int64() == 5) {
        ++refused;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      } else {
        ++refused_other;
      }
    }
  });
  auto count = [&] {
    std::lock_guard lock(mu);
    return acknowledged.size();
  };
  ASSERT_TRUE(WaitFor([&] { return count() >= 1000; }, std::chrono::seconds(20)));
  redis_.Kill();
  ASSERT_TRUE(WaitFor([&] { return refused.load() >= 50; }, std::chrono::seconds(20)))
      << "adds were not refused";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // stay down a while
  HttpClient probe(instance.address());
  EXPECT_EQ(probe.Get("/readyz").status, 503);
  size_t before_restart = count();
  ASSERT_TRUE(redis_.Start()) << "redis-server did not restart";
  ASSERT_TRUE(WaitFor([&] { return count() >= before_restart + 1000; }, std::chrono::seconds(20)))
      << "adds did not resume after Redis came back";
  stop = true;
  adder.join();
  EXPECT_EQ(refused_other.load(), 0);
  EXPECT_EQ(probe.Get("/readyz").status, 200);

  // Every acknowledged task is still there and is handed out exactly once.
  std::set<std::string> expected(acknowledged.begin(), acknowledged.end());
  std::set<std::string> got;
  WaitFor(
      [&] {
        for (;;) {
          auto response = probe.Post("/delay/task/pull", R"({"topic":"restart"})");
          json::value body = Parse(response.body);
          if (response.status != 200 || !body.is_object() || body.at("task_id").as_int64() == 0)
            break;
          EXPECT_TRUE(got.insert(std::to_string(body.at("task_id").as_int64())).second)
              << "handed out twice";
        }
        return std::includes(got.begin(), got.end(), expected.begin(), expected.end());
      },
      std::chrono::seconds(20));
  size_t missing = 0;
  for (const auto& id : expected) missing += got.count(id) == 0;
  EXPECT_EQ(missing, 0u) << "acknowledged tasks lost out of " << expected.size();
  std::cout << "acknowledged " << expected.size() << ", refused while down " << refused << "\n";
}

// Redis hung (SIGSTOP, not dead) for 6 s under adds: every request answers within its
// timeout (503 while Redis hangs), /readyz says not ready, service resumes after SIGCONT, and
// no add answered with a plain error is delivered later (only "outcome unknown" ones may be).
TEST_F(DistributedMode, HungRedisAnswersWithinTheTimeoutAndResumes) {
  std::vector<std::string> flags = RedisFlags(redis_.url());
  flags.insert(flags.end(), {"--redis-command-timeout", "1s"});
  instances_.push_back(std::make_unique<ServerProcess>(dir_.Sub("hung"), flags));
  ServerProcess& instance = *instances_.back();
  ASSERT_TRUE(instance.Start()) << instance.last_error();
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::set<std::string> acknowledged, refused, unknown;  // by content
  std::atomic<int64_t> slowest_ms{0};
  std::atomic<int> refused_count{0}, other{0};
  std::thread adder([&] {
    HttpClient client(instance.address(), std::chrono::seconds(30));
    for (int n = 0; !stop && n < 200'000; ++n) {
      std::string content = "n" + std::to_string(n);
      int64_t started = WallClockMs();
      auto response = client.Post(
          "/delay/task/add", R"({"topic":"hung","timing_moment":1,"content":")" + content + "\"}");
      int64_t took = WallClockMs() - started;
      if (took > slowest_ms) slowest_ms = took;
      json::value body = Parse(response.body);
      std::lock_guard lock(mu);
      if (response.status == 200 && body.is_object() && body.at("dm_error").as_int64() == 0) {
        acknowledged.insert(content);
      } else if (response.status == 503 && body.is_object() &&
                 body.at("dm_error").as_int64() == 5) {
        std::string message(body.at("error_msg").as_string());
        (message.rfind("outcome unknown", 0) == 0 ? unknown : refused).insert(content);
        ++refused_count;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      } else {
        ++other;
      }
    }
  });
  auto count = [&] {
    std::lock_guard lock(mu);
    return acknowledged.size();
  };
  ASSERT_TRUE(WaitFor([&] { return count() >= 500; }, std::chrono::seconds(20)));
  slowest_ms = 0;
  redis_.Pause();
  int64_t paused_at = WallClockMs();
  ASSERT_TRUE(WaitFor([&] { return refused_count.load() >= 3; }, std::chrono::seconds(10)))
      << "adds were not refused while Redis hung";
  HttpClient probe(instance.address(), std::chrono::seconds(10));
  int64_t asked = WallClockMs();
  EXPECT_EQ(probe.Get("/readyz").status, 503);
  EXPECT_LT(WallClockMs() - asked, 3000) << "/readyz hung with Redis";
  // Hung for 6 s in all, whatever the waits above took.
  std::this_thread::sleep_for(
      std::chrono::milliseconds(std::max<int64_t>(0, 6000 - (WallClockMs() - paused_at))));
  int64_t slowest_while_hung = slowest_ms;
  redis_.Resume();
  size_t before = count();
  ASSERT_TRUE(WaitFor([&] { return count() >= before + 500; }, std::chrono::seconds(20)))
      << "adds did not resume after SIGCONT";
  stop = true;
  adder.join();
  EXPECT_EQ(other.load(), 0);
  // command timeout 1 s; an add may wait for one exchange already in flight plus its own.
  EXPECT_LT(slowest_while_hung, 3000) << "a request waited past its timeout";
  EXPECT_TRUE(WaitFor([&] { return probe.Get("/readyz").status == 200; }, std::chrono::seconds(5)));

  std::set<std::string> delivered;
  WaitFor(
      [&] {
        for (;;) {
          auto response = probe.Post("/delay/task/pull", R"({"topic":"hung"})");
          json::value body = Parse(response.body);
          if (response.status != 200 || !body.is_object() || body.at("task_id").as_int64() == 0)
            break;
          std::string content(body.at("content").as_string());
          EXPECT_TRUE(delivered.insert(content).second) << content << " handed out twice";
        }
        return std::includes(delivered.begin(), delivered.end(), acknowledged.begin(),
                             acknowledged.end());
      },
      std::chrono::seconds(20));
  size_t lost = 0, refused_delivered = 0, unknown_delivered = 0;
  for (const auto& c : acknowledged) lost += delivered.count(c) == 0;
  for (const auto& c : refused) refused_delivered += delivered.count(c);
  for (const auto& c : unknown) unknown_delivered += delivered.count(c);
  EXPECT_EQ(lost, 0u) << "acknowledged adds lost";
  EXPECT_EQ(refused_delivered, 0u) << "adds answered a plain 503 were stored and delivered";
  std::cout << "acknowledged " << acknowledged.size() << ", refused " << refused.size()
            << ", outcome unknown " << unknown.size() << " (delivered " << unknown_delivered
            << "), slowest answer while hung " << slowest_while_hung << " ms\n";
}

// A 3-master + 3-replica cluster (cluster-node-timeout 2 s, AOF appendfsync always), two
// instances with redis.wait_replicas 1, adds and v1 pulls + acks on topics over all masters.
// Two rounds: a master is SIGKILLed mid-load (first the one holding delayq's global keys, then
// one holding only topics), its replica is promoted, and the killed node is restarted and
// rejoins as a replica. (A third round, another topic master, repeated the second's case and
// took 12 s.) Each
// round: /readyz 503 during the outage and 200 after, adds to every topic succeed again
// within the bound, and at the end every acknowledged task is delivered and no add answered
// with a plain error is. Without wait_replicas an add the old master acknowledged but had
// not yet replicated can be lost (asynchronous replication): that is what WAIT is for.
TEST(RedisClusterFailover, MastersKilledInTurnLoseNothingAcknowledged) {
  testing::TempDir dir;
  RedisCluster cluster(dir.Sub("cluster"), /*replicas=*/1, /*node_timeout_ms=*/2000);
  ASSERT_TRUE(cluster.Start()) << cluster.last_error();
  std::vector<std::unique_ptr<ServerProcess>> instances;
  for (int i = 0; i < 2; ++i) {
    std::vector<std::string> flags = RedisFlags(cluster.url());
    flags.insert(flags.end(), {"--redis-command-timeout", "1s", "--redis-wait-replicas", "1"});
    instances.push_back(std::make_unique<ServerProcess>(dir.Sub("i" + std::to_string(i)), flags));
    ASSERT_TRUE(instances.back()->Start()) << instances.back()->last_error();
  }
  const int kTopics = 12;  // their slots land on all three masters
  std::vector<std::string> topics;
  for (int t = 0; t < kTopics; ++t) topics.push_back("f" + std::to_string(t));
  DeliveryLedger ledger;
  for (int i = 0; i < 2; ++i) {
    ledger.StartLoad(instances[i]->address(), topics, "a" + std::to_string(i) + "-");
  }
  auto acked = [&] { return ledger.acknowledged(); };
  HttpClient probe(instances[0]->address(), std::chrono::seconds(10));
  std::vector<int64_t> recovery_ms, promotion_ms;
  int previous = -1;
  constexpr int kRounds = 2;
  for (int round = 0; round < kRounds; ++round) {
    ASSERT_TRUE(WaitFor([&] { return acked() >= 300u * (round + 1); }, std::chrono::seconds(30)));
    // Round 0: the master of the global keys; then masters of topics elsewhere.
    std::string victim_key = round == 0 ? "dq:{dq}:gen" : "dq:{f" + std::to_string(round) + "}:n";
    int victim = cluster.MasterOf(victim_key);
    for (int t = 0; victim == previous || victim < 0; ++t) {
      ASSERT_LT(t, kTopics) << "no other master found";
      victim_key = "dq:{f" + std::to_string(t) + "}:n";
      victim = cluster.MasterOf(victim_key);
    }
    previous = victim;
    int64_t killed_at = WallClockMs();
    cluster.node(victim).Kill();
    EXPECT_TRUE(
        WaitFor([&] { return probe.Get("/readyz").status == 503; }, std::chrono::seconds(10)))
        << "round " << round << ": /readyz never said not ready";
    // As a supervisor would, the killed node is restarted once its replica has taken over;
    // it rejoins as that one's replica, which is what lets WAIT 1 confirm adds again.
    ASSERT_TRUE(
        WaitFor([&] { return cluster.MasterOf(victim_key) >= 0; }, std::chrono::seconds(15)))
        << "round " << round << ": no replica was promoted";
    promotion_ms.push_back(WallClockMs() - killed_at);
    EXPECT_LT(promotion_ms.back(), 8000) << "round " << round;
    ASSERT_TRUE(cluster.node(victim).Start());
    // Recovered: every topic took an add after the kill, and /readyz is 200 again.
    bool back = WaitFor(
        [&] {
          for (const std::string& topic : topics) {
            if (ledger.last_ok_ms(topic) < killed_at) return false;
          }
          return true;
        },
        std::chrono::seconds(20));
    int64_t recovered = WallClockMs() - killed_at;
    if (!back) {
      std::string late;
      for (const std::string& topic : topics) {
        if (ledger.last_ok_ms(topic) < killed_at) late += " " + topic;
      }
      std::string nodes;
      for (size_t n = 0; n < cluster.size(); ++n) {
        if (static_cast<int>(n) != victim)
          nodes += "node " + std::to_string(n) + ":\n" + cluster.node(n).Cli("CLUSTER NODES");
      }
      std::string metrics = probe.Get("/metrics").body;
      std::string redis_metrics;
      std::istringstream lines(metrics);
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("delayq_redis", 0) == 0) redis_metrics += line + "\n";
      }
      std::string log = instances[0]->Log();
      FAIL() << "round " << round << ": adds did not resume on topics" << late << "\n"
             << nodes << redis_metrics << "--- instance 0 log (tail) ---\n"
             << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
    }
    EXPECT_TRUE(
        WaitFor([&] { return probe.Get("/readyz").status == 200; }, std::chrono::seconds(10)));
    recovery_ms.push_back(recovered);
    // Stated bound: the promotion takes node timeout (2 s) + election (~2 s); with WAIT 1 and
    // one replica per master, adds are confirmed again once the restarted node has synced.
    EXPECT_LT(recovered, 15000) << "round " << round;
    // Every master has a replica again before the next round.
    ASSERT_TRUE(WaitFor(
        [&] {
          return cluster.node(victim).Cli("INFO replication").find("master_link_status:up") !=
                 std::string::npos;
        },
        std::chrono::seconds(20)))
        << "round " << round << ": the killed node did not rejoin as a replica";
  }
  ASSERT_TRUE(WaitFor([&] { return acked() >= 300u * (kRounds + 1); }, std::chrono::seconds(30)));
  ledger.StopLoad();
  ledger.Drain(probe, topics, std::chrono::seconds(30));
  EXPECT_EQ(ledger.Lost(), 0u) << "acknowledged adds lost: " << ledger.Summary();
  EXPECT_EQ(ledger.RefusedDelivered(), 0u) << "adds answered a plain 503 were delivered";
  EXPECT_EQ(ledger.other(), 0);
  // Redeliveries are the price of at-least-once: a claim whose answer was lost, or an ack
  // that failed or was acknowledged by a master that died before its replica had it.
  std::cout << ledger.Summary() << "; promotion ms:";
  for (int64_t ms : promotion_ms) std::cout << " " << ms;
  std::cout << "; recovery ms:";
  for (int64_t ms : recovery_ms) std::cout << " " << ms;
  std::cout << "\n";
}

// A 3-master Redis Cluster made by redis-cli: adds and deliveries across 50 topics, whose
// keys land on every master.
TEST(RedisClusterMode, FiftyTopicsAcrossSlots) {
  testing::TempDir dir;
  RedisCluster cluster(dir.Sub("cluster"));
  ASSERT_TRUE(cluster.Start()) << cluster.last_error();
  std::vector<std::unique_ptr<ServerProcess>> instances;
  for (int i = 0; i < 2; ++i) {
    instances.push_back(std::make_unique<ServerProcess>(dir.Sub("i" + std::to_string(i)),
                                                        RedisFlags(cluster.url())));
    ASSERT_TRUE(instances.back()->Start()) << instances.back()->last_error();
  }
  CallbackReceiver receiver;
  HttpClient a(instances[0]->address());
  HttpClient b(instances[1]->address());
  std::mt19937 rng(7);
  std::map<std::string, std::set<std::string>> pull_ids;
  std::set<std::string> callback_ids;
  int64_t due = WallClockMs() + 1000;
  for (int t = 0; t < 50; ++t) {
    std::string topic = "topic-" + std::to_string(t);
    for (const auto& id : AddBatch(t % 2 ? a : b, topic, 20, due, 500, "", rng))
      pull_ids[topic].insert(id);
    auto single = (t % 2 ? b : a)
                      .Post("/v1/topics/" + topic + "/tasks",
                            R"({"payload":"cb","delay_ms":500,"callback":{"url":")" +
                                receiver.base_url() + "/cb\"}}");
    ASSERT_EQ(single.status, 201) << single.body;
    callback_ids.insert(std::string(Parse(single.body).at("id").as_string()));
  }
  // Keys of the 50 topics are spread over all three masters.
  for (int port : cluster.ports()) {
    std::string keys = testing::RunCommand("redis-cli -p " + std::to_string(port) + " DBSIZE");
    EXPECT_GT(std::atoi(keys.c_str()), 0) << "master on port " << port << " holds no key";
  }
  // Move topic-0's slot (with its keys) to another master: the instances' slot maps are now
  // stale, so their next command for it meets MOVED and must follow it.
  {
    auto cli = [](int port, const std::string& args) {
      std::string out = testing::RunCommand("redis-cli -p " + std::to_string(port) + " " + args);
      while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
      return out;
    };
    std::vector<int> ports = cluster.ports();
    std::string slot = cli(ports[0], "CLUSTER KEYSLOT '{topic-0}'");
    int source = -1;
    for (int port : ports) {
      if (std::atoi(cli(port, "CLUSTER COUNTKEYSINSLOT " + slot).c_str()) > 0) source = port;
    }
    ASSERT_NE(source, -1) << "no master holds topic-0's keys";
    int target = source == ports[0] ? ports[1] : ports[0];
    std::string source_id = cli(source, "CLUSTER MYID");
    std::string target_id = cli(target, "CLUSTER MYID");
    cli(target, "CLUSTER SETSLOT " + slot + " IMPORTING " + source_id);
    cli(source, "CLUSTER SETSLOT " + slot + " MIGRATING " + target_id);
    for (;;) {
      std::string keys = cli(source, "CLUSTER GETKEYSINSLOT " + slot + " 1000");
      if (keys.empty()) break;
      std::string list;
      for (size_t at = 0; at < keys.size();) {
        size_t end = keys.find('\n', at);
        if (end == std::string::npos) end = keys.size();
        list += " '" + keys.substr(at, end - at) + "'";
        at = end + 1;
      }
      ASSERT_EQ(
          cli(source, "MIGRATE 127.0.0.1 " + std::to_string(target) + " '' 0 5000 KEYS" + list),
          "OK");
    }
    for (int port : ports) cli(port, "CLUSTER SETSLOT " + slot + " NODE " + target_id);
    EXPECT_GT(std::atoi(cli(target, "CLUSTER COUNTKEYSINSLOT " + slot).c_str()), 0);
    EXPECT_EQ(std::atoi(cli(source, "CLUSTER COUNTKEYSINSLOT " + slot).c_str()), 0);
    // An add after the move reaches the new owner too.
    auto moved = a.Post("/v1/topics/topic-0/tasks", R"({"payload":"after the move"})");
    ASSERT_EQ(moved.status, 201) << moved.body;
    pull_ids["topic-0"].insert(std::string(Parse(moved.body).at("id").as_string()));
    // The old owner answered MOVED at least once (and the add above still succeeded).
    EXPECT_NE(cli(source, "INFO errorstats").find("errorstat_MOVED"), std::string::npos);
  }
  // Pull everything, alternating instances; ack on the other one.
  size_t total = 0;
  for (const auto& [topic, ids] : pull_ids) total += ids.size();
  ASSERT_EQ(total, 1001u);
  std::set<std::string> acked;
  bool done = WaitFor(
      [&] {
        for (const auto& [topic, ids] : pull_ids) {
          auto response =
              (acked.size() % 2 ? a : b).Post("/v1/topics/" + topic + "/pull", R"({"max":100})");
          if (response.status != 200) continue;
          json::value answer = Parse(response.body);
          for (const auto& item : answer.at("tasks").as_array()) {
            std::string id(item.at("id").as_string());
            EXPECT_TRUE(ids.count(id)) << id << " pulled from the wrong topic " << topic;
            auto ack =
                (acked.size() % 2 ? b : a)
                    .Post("/v1/tasks/" + id + "/ack",
                          R"({"lease":")" + std::string(item.at("lease").as_string()) + "\"}");
            EXPECT_EQ(ack.status, 200) << ack.body;
            EXPECT_TRUE(acked.insert(id).second) << id << " pulled twice";
          }
        }
        return acked.size() >= total;
      },
      std::chrono::seconds(30));
  EXPECT_TRUE(done) << "acked " << acked.size() << "/" << total;
  ASSERT_TRUE(receiver.WaitForCalls("/cb", callback_ids.size(), std::chrono::seconds(30)));
  std::set<std::string> called;
  for (const auto& call : receiver.Calls("/cb")) called.insert(call.headers.at("x-delayq-task-id"));
  EXPECT_EQ(called, callback_ids);
  json::value topics = Parse(a.Get("/v1/topics").body);
  ASSERT_TRUE(topics.is_object());
  EXPECT_EQ(topics.at("topics").as_array().size(), 50u);
}

// One batch acknowledgement whose items' topics hash to slots on different masters: each item
// is applied on its own node (grouped per node by the store), in request order in the answer.
TEST(RedisClusterMode, BatchAckAcrossSlotsSettlesEachItemOnItsOwnNode) {
  testing::TempDir dir;
  RedisCluster cluster(dir.Sub("cluster"));
  ASSERT_TRUE(cluster.Start()) << cluster.last_error();
  ServerProcess instance(dir.Sub("i0"), RedisFlags(cluster.url()));
  ASSERT_TRUE(instance.Start()) << instance.last_error();
  HttpClient client(instance.address());
  std::mt19937 rng(11);
  for (int t = 0; t < 10; ++t) {
    ASSERT_EQ(AddBatch(client, "spread-" + std::to_string(t), 3, WallClockMs(), 0, "", rng).size(),
              3u);
  }
  std::vector<std::pair<std::string, std::string>> leases;  // id, lease
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int t = 0; t < 10; ++t) {
          auto response =
              client.Post("/v1/topics/spread-" + std::to_string(t) + "/pull", R"({"max":10})");
          if (response.status != 200) continue;
          json::value answer = Parse(response.body);  // kept: the loop refers into it
          for (const auto& item : answer.at("tasks").as_array()) {
            leases.emplace_back(item.at("id").as_string(), item.at("lease").as_string());
          }
        }
        return leases.size() >= 30;
      },
      std::chrono::seconds(20)))
      << "pulled " << leases.size() << " of 30";
  ASSERT_EQ(leases.size(), 30u);
  // The last item with a lease that is not its own: refused alone.
  const std::string wrong =
      leases.back().second == "00000000000000ab" ? "00000000000000ac" : "00000000000000ab";
  std::string body = R"({"acks":[)";
  for (size_t i = 0; i < leases.size(); ++i) {
    std::string lease = i + 1 == leases.size() ? wrong : leases[i].second;
    body += (i ? "," : "") + std::string(R"({"id":")") + leases[i].first + R"(","lease":")" +
            lease + "\"}";
  }
  auto acked = client.Post("/v1/tasks:ack", body + "]}");
  ASSERT_EQ(acked.status, 200) << acked.body;
  const json::array results = Parse(acked.body).at("results").as_array();
  ASSERT_EQ(results.size(), 30u);
  for (size_t i = 0; i + 1 < results.size(); ++i) {
    EXPECT_EQ(results[i].at("id").as_string(), leases[i].first) << i;
    EXPECT_EQ(results[i].at("state").as_string(), "done") << json::serialize(results[i]);
  }
  EXPECT_EQ(results[29].at("error").at("code").as_int64(), 409) << json::serialize(results[29]);
  EXPECT_EQ(Parse(client.Get("/v1/tasks/" + leases[29].first).body).at("state"), "leased");
  auto nacked =
      client.Post("/v1/tasks:nack", R"({"nacks":[{"id":")" + leases[29].first + R"(","lease":")" +
                                        leases[29].second + R"(","delay_ms":3600000}]})");
  ASSERT_EQ(nacked.status, 200) << nacked.body;
  EXPECT_EQ(Parse(nacked.body).at("results").as_array()[0].at("state"), "scheduled") << nacked.body;
  for (size_t i = 0; i + 1 < leases.size(); ++i) {
    EXPECT_EQ(Parse(client.Get("/v1/tasks/" + leases[i].first).body).at("state"), "done");
  }
}

}  // namespace
}  // namespace delayq
