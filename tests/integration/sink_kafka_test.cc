// The Kafka sink against the real binary and librdkafka's mock cluster (a process of its own,
// real Kafka protocol on loopback). What delayq produced is read back with kcat, a consumer
// that is not delayq's code.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "support/integration.h"
#include "support/kafka_mock.h"
#include "support/redis_server.h"
#include "support/served.h"

namespace delayq {
namespace {

using namespace delayq::integration;
using testing::KafkaMessage;
using testing::KafkaMock;
using testing::ReadTopicWithKcat;
using testing::RunCommand;
namespace json = boost::json;

struct Added {
  std::string id;
  std::string topic;
  std::string payload;
  std::string key;  // expected message key
  int64_t due_at_ms = 0;
};

class KafkaSink : public ::testing::Test, protected testing::Served {
 protected:
  void SetUp() override { ASSERT_TRUE(mock_.Start()) << mock_.last_error(); }

  std::string Yaml(const std::string& extra = "") {
    return "sinks:\n  kafka:\n    brokers: \"" + mock_.bootstrap() + "\"\n" + extra;
  }

  // Starts delayq with `yaml` as its config file plus `flags`.
  void Start(const std::string& yaml, std::vector<std::string> flags = {}) {
    StartWithConfig(yaml, std::move(flags));
  }

  json::value Call(std::string_view method, const std::string& target, const std::string& body,
                   int* status = nullptr) {
    return CallJson(method, target, body, status);
  }

  // Adds `count` string-payload tasks to `topic` in one batch, due from `first_due_ms` on,
  // spread over `spread_ms`; every other task names a key (the rest default to their id).
  std::vector<Added> AddBatch(const std::string& topic, const std::string& kafka_topic, int count,
                              int64_t first_due_ms, int64_t spread_ms,
                              const std::string& extra = "") {
    json::array tasks;
    std::vector<Added> added;
    for (int i = 0; i < count; ++i) {
      Added a;
      a.topic = topic;
      a.payload = topic + "-payload-" + std::to_string(i) + " \"quoted\" ünï";
      a.due_at_ms = first_due_ms + spread_ms * i / std::max(1, count);
      json::object kafka{{"topic", kafka_topic}};
      if (i % 2 == 0) {
        a.key = "key-" + std::to_string(i % 7);
        kafka["key"] = a.key;
      }
      json::object task{
          {"payload", a.payload}, {"at_ms", a.due_at_ms}, {"sink", json::object{{"kafka", kafka}}}};
      if (!extra.empty()) {
        json::value more = json::parse(extra);
        for (const auto& item : more.as_object()) task[item.key()] = item.value();
      }
      tasks.push_back(std::move(task));
      added.push_back(std::move(a));
    }
    int status = 0;
    json::value r = Call("POST", "/v1/topics/" + topic + "/tasks:batch",
                         json::serialize(json::object{{"tasks", tasks}}), &status);
    EXPECT_EQ(status, 201) << json::serialize(r);
    if (status != 201) return {};
    const json::array& ids = r.at("ids").as_array();
    for (size_t i = 0; i < added.size(); ++i) {
      added[i].id = std::string(ids[i].as_string());
      if (added[i].key.empty()) added[i].key = added[i].id;
    }
    return added;
  }

  // Every message of the Kafka topics, by task id (a task produced twice appears twice).
  std::multimap<std::string, KafkaMessage> ReadAll(const std::vector<std::string>& topics) {
    std::multimap<std::string, KafkaMessage> by_id;
    for (const std::string& topic : topics) {
      std::string error;
      for (KafkaMessage& m : ReadTopicWithKcat(mock_.bootstrap(), topic, &error)) {
        std::string id = m.headers["delayq-task-id"];
        by_id.emplace(id, std::move(m));
      }
    }
    return by_id;
  }

  // Waits until every task of `added` is in Kafka at least once.
  bool WaitAllProduced(const std::vector<Added>& added, const std::vector<std::string>& topics,
                       std::chrono::milliseconds timeout,
                       std::multimap<std::string, KafkaMessage>* out) {
    return WaitFor(
        [&] {
          *out = ReadAll(topics);
          for (const Added& a : added) {
            if (out->count(a.id) == 0) return false;
          }
          return true;
        },
        timeout);
  }

  std::string State(const std::string& id, json::value* task = nullptr) {
    json::value t = Call("GET", "/v1/tasks/" + id, "");
    if (task) *task = t;
    return t.is_object() ? std::string(t.at("state").as_string()) : "";
  }

  // The count of `state` in the topic's stats (GET /v1/topics/{topic}).
  int64_t Count(const std::string& topic, const std::string& state) {
    auto r = client_->Get("/v1/topics/" + topic);
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("counts")) return -1;
    return v.at("counts").at(state).to_number<int64_t>();
  }

  double Metric(const std::string& series) {
    std::string text = client_->Get("/metrics").body;
    size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
  }

  ~KafkaSink() override { StopServer(); }  // before mock_, which it talks to

  KafkaMock mock_;
};

// delayq-due-at-ms is the due time of the delivery: the added one on a first attempt, the
// retry's (or the redrive's) on a later one.
void ExpectMessageOf(const Added& a, const KafkaMessage& m, bool redriven = false) {
  EXPECT_EQ(m.value, a.payload) << a.id;
  EXPECT_EQ(m.key, a.key) << a.id;
  EXPECT_EQ(m.headers.at("delayq-task-id"), a.id);
  EXPECT_EQ(m.headers.at("delayq-topic"), a.topic);
  ASSERT_EQ(m.headers.count("delayq-attempt"), 1u);
  if (m.headers.at("delayq-attempt") == "1" && !redriven) {
    EXPECT_EQ(m.headers.at("delayq-due-at-ms"), std::to_string(a.due_at_ms));
  } else {
    EXPECT_GT(std::stoll(m.headers.at("delayq-due-at-ms")), a.due_at_ms);
  }
}

TEST_F(KafkaSink, ThousandTasksOnFourTopicsAreProducedOnceEachWithValueKeyAndHeaders) {
  std::vector<std::string> kafka_topics = {"k_orders", "k_rewards", "k_reminders", "k_closes"};
  for (const auto& t : kafka_topics) ASSERT_TRUE(mock_.CreateTopic(t, 4));
  Start(Yaml());
  int64_t first_due = WallClockMs() + 500;
  std::vector<Added> all;
  for (int t = 0; t < 4; ++t) {
    auto added = AddBatch("sink_t" + std::to_string(t), kafka_topics[t], 250, first_due, 1500);
    ASSERT_EQ(added.size(), 250u);
    all.insert(all.end(), added.begin(), added.end());
  }
  ASSERT_LE(WallClockMs(), first_due) << "adding took longer than the first delay";
  std::multimap<std::string, KafkaMessage> read;
  ASSERT_TRUE(WaitAllProduced(all, kafka_topics, std::chrono::seconds(30), &read))
      << read.size() << " of 1000 in Kafka";
  EXPECT_EQ(read.size(), 1000u) << "exactly one message per task";
  int64_t max_lateness = 0;
  std::map<std::string, std::set<int32_t>> partitions_of_key;
  for (const Added& a : all) {
    ASSERT_EQ(read.count(a.id), 1u) << a.id;
    const KafkaMessage& m = read.find(a.id)->second;
    ExpectMessageOf(a, m);
    EXPECT_EQ(m.headers.at("delayq-attempt"), "1");
    // CreateTime is stamped by the producer when delayq hands the message over.
    EXPECT_GE(m.timestamp_ms, a.due_at_ms) << "produced before its due time: " << a.id;
    max_lateness = std::max(max_lateness, m.timestamp_ms - a.due_at_ms);
    partitions_of_key[m.topic + "/" + m.key].insert(m.partition);
  }
  for (const auto& [key, partitions] : partitions_of_key) {
    EXPECT_EQ(partitions.size(), 1u) << "key " << key << " spread over partitions";
  }
  std::cout << "1000 tasks in Kafka; largest produce lateness " << max_lateness << " ms\n";
  EXPECT_TRUE(WaitFor([&] { return Metric("delayq_sink_produced_total{sink=\"kafka\"}") == 1000; },
                      std::chrono::seconds(5)));
  EXPECT_TRUE(WaitFor([&] { return State(all.back().id) == "done"; }, std::chrono::seconds(5)));
}

TEST_F(KafkaSink, BrokersDownForThreeSecondsDelayButLoseNothing) {
  ASSERT_TRUE(mock_.CreateTopic("k_down", 4));
  Start(Yaml());
  ASSERT_TRUE(WaitFor([&] { return Metric("delayq_sink_up{sink=\"kafka\"}") == 1; },
                      std::chrono::seconds(10)));
  ASSERT_TRUE(mock_.BrokersDown());
  auto down_at = std::chrono::steady_clock::now();
  std::vector<Added> added = AddBatch("sink_down", "k_down", 100, WallClockMs() + 300, 1500);
  ASSERT_EQ(added.size(), 100u);
  // /readyz names the sink that cannot reach its brokers; the server stays ready.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = client_->Get("/readyz");
        return r.status == 200 &&
               r.body.find("\"kafka\":{\"status\":\"unavailable\"") != std::string::npos;
      },
      std::chrono::seconds(5)))
      << client_->Get("/readyz").body;
  std::this_thread::sleep_until(down_at + std::chrono::seconds(3));  // the outage's length
  ASSERT_TRUE(mock_.BrokersUp());
  std::multimap<std::string, KafkaMessage> read;
  ASSERT_TRUE(WaitAllProduced(added, {"k_down"}, std::chrono::seconds(30), &read))
      << read.size() << " of 100 in Kafka";
  for (const Added& a : added) ExpectMessageOf(a, read.find(a.id)->second);
  EXPECT_TRUE(WaitFor(
      [&] {
        for (const Added& a : added) {
          if (State(a.id) != "done") return false;
        }
        return true;
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(Metric("delayq_callbacks_dead_total"), 0);
  std::cout << "after the outage: " << read.size() << " messages for 100 tasks\n";
  EXPECT_TRUE(
      WaitFor([&] { return client_->Get("/readyz").body.find("unavailable") == std::string::npos; },
              std::chrono::seconds(10)));
}

TEST_F(KafkaSink, PermanentBrokerErrorRetriesThenDeadWithItsTextAndRedriveDelivers) {
  ASSERT_TRUE(mock_.CreateTopic("k_perm", 1));
  // librdkafka remembers a topic's authorization error until its next metadata refresh
  // (topic.metadata.refresh.interval.ms, 5 min by default): refresh often here, and retry
  // more slowly than that, so that the redrive after the fix is not refused from its cache.
  Start(Yaml("    properties:\n      topic.metadata.refresh.interval.ms: \"300\"\n"),
        {"--callbacks-retry-initial", "500ms", "--callbacks-retry-max", "1s"});
  ASSERT_TRUE(WaitFor([&] { return Metric("delayq_sink_up{sink=\"kafka\"}") == 1; },
                      std::chrono::seconds(10)));
  // 29: TOPIC_AUTHORIZATION_FAILED, which librdkafka does not retry itself.
  ASSERT_TRUE(mock_.FailProduce(29, 1000));
  std::vector<Added> added =
      AddBatch("sink_perm", "k_perm", 1, WallClockMs(), 0, R"({"max_attempts":4})");
  ASSERT_EQ(added.size(), 1u);
  json::value task;
  ASSERT_TRUE(
      WaitFor([&] { return State(added[0].id, &task) == "dead"; }, std::chrono::seconds(20)))
      << json::serialize(task);
  EXPECT_EQ(task.at("attempts").as_int64(), 4);
  std::string last_error(task.at("last_error").as_string());
  EXPECT_NE(last_error.find("Topic authorization failed"), std::string::npos) << last_error;
  std::cout << "last_error: " << last_error << "\n";
  EXPECT_TRUE(ReadAll({"k_perm"}).empty());

  ASSERT_TRUE(mock_.ClearProduceErrors());
  int status = 0;
  Call("POST", "/v1/tasks/" + added[0].id + "/redrive", "", &status);
  EXPECT_EQ(status, 200);
  std::multimap<std::string, KafkaMessage> read;
  ASSERT_TRUE(WaitAllProduced(added, {"k_perm"}, std::chrono::seconds(20), &read))
      << server_->Log();
  EXPECT_EQ(read.size(), 1u);
  ExpectMessageOf(added[0], read.begin()->second, /*redriven=*/true);
  EXPECT_TRUE(WaitFor([&] { return State(added[0].id) == "done"; }, std::chrono::seconds(5)));
}

TEST_F(KafkaSink, SigkillWithProducesInFlightLosesNoAcknowledgedTask) {
  ASSERT_TRUE(mock_.CreateTopic("k_crash", 4));
  // Slow brokers keep produce requests in flight; a short callbacks.timeout keeps the
  // delivering lease (timeout + 5 s) short, so the restart re-delivers soon.
  ASSERT_EQ(mock_.Command("rtt -1 300"), "ok");
  Start(Yaml(), {"--callbacks-timeout", "2s"});
  std::vector<Added> added;
  for (int round = 0; round < 5; ++round) {
    auto batch = AddBatch("sink_crash", "k_crash", 100, WallClockMs() + 100 * round, 200);
    ASSERT_EQ(batch.size(), 100u);
    added.insert(added.end(), batch.begin(), batch.end());
  }
  ASSERT_TRUE(WaitFor([&] { return Metric("delayq_sink_in_flight{sink=\"kafka\"}") > 0; },
                      std::chrono::seconds(10)));
  double in_flight = Metric("delayq_sink_in_flight{sink=\"kafka\"}");
  double produced = Metric("delayq_sink_produced_total{sink=\"kafka\"}");
  server_->Kill();
  ASSERT_EQ(mock_.Command("rtt -1 0"), "ok");
  ASSERT_TRUE(server_->Start()) << server_->last_error();
  client_ = std::make_unique<HttpClient>(server_->address());
  std::multimap<std::string, KafkaMessage> read;
  ASSERT_TRUE(WaitAllProduced(added, {"k_crash"}, std::chrono::seconds(60), &read))
      << read.size() << " messages; not every acknowledged task is in Kafka";
  // Duplicates are known once every task is done: a task whose message was stored but whose
  // outcome died with the server is produced again when its delivering lease runs out.
  ASSERT_TRUE(
      WaitFor([&] { return Count("sink_crash", "done") == 500; }, std::chrono::seconds(60)));
  read = ReadAll({"k_crash"});
  size_t duplicates = read.size() - added.size();
  std::cout << "SIGKILL with " << in_flight << " produces in flight (" << produced
            << " stored before): 500 acknowledged tasks all in Kafka, " << duplicates
            << " duplicates (at-least-once)\n";
  for (const Added& a : added) {
    auto [from, to] = read.equal_range(a.id);
    for (auto it = from; it != to; ++it) ExpectMessageOf(a, it->second);
  }
}

TEST_F(KafkaSink, SeedAddOnAKafkaTopicProducesContentByteForByte) {
  ASSERT_TRUE(mock_.CreateTopic("delay_base_push", 2));
  // The topic's default sink names no Kafka topic: sinks.kafka.default_topic, the seed's.
  Start(Yaml("topics:\n  order_timeout:\n    sink:\n      kafka: {}\n"));
  int64_t moment = WallClockMs() / 1000;
  // The seed's own add example, sent as its clients send it (curl -d).
  std::string content = R"({"uid":"111111"})";
  std::string out = RunCommand(
      "curl -s -d '{\"topic\": \"order_timeout\", \"timing_moment\": " + std::to_string(moment) +
      ", \"content\": \"{\\\"uid\\\":\\\"111111\\\"}\"}' http://" + server_->address() +
      "/delay/task/add");
  json::value added = json::parse(out);
  ASSERT_EQ(added.at("dm_error").as_int64(), 0) << out;
  std::string id = std::to_string(added.at("task_id").to_number<uint64_t>());
  std::vector<KafkaMessage> messages;
  ASSERT_TRUE(WaitFor(
      [&] {
        messages = ReadTopicWithKcat(mock_.bootstrap(), "delay_base_push");
        return !messages.empty();
      },
      std::chrono::seconds(20)));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].value, content);
  EXPECT_EQ(messages[0].key, id);
  EXPECT_EQ(messages[0].headers["delayq-task-id"], id);
  EXPECT_EQ(messages[0].headers["delayq-topic"], "order_timeout");
  EXPECT_EQ(messages[0].headers["delayq-due-at-ms"], std::to_string(moment * 1000));
  json::value task;
  EXPECT_TRUE(WaitFor([&] { return State(id, &task) == "done"; }, std::chrono::seconds(5)));
  EXPECT_EQ(task.at("kind").as_string(), "sink");
}

TEST_F(KafkaSink, ATracedTaskCarriesItsTraceContextAsMessageHeaders) {
  ASSERT_TRUE(mock_.CreateTopic("traced_due", 1));
  Start(Yaml());
  const std::string parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const std::string state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
  HttpResponse r = client_->Request(
      "POST", "/v1/topics/traced/tasks:batch",
      R"({"tasks":[{"payload":"a","sink":{"kafka":{"topic":"traced_due"}}},)"
      R"({"payload":"b","sink":{"kafka":{"topic":"traced_due"}},"traceparent":null}]})",
      {{"traceparent", parent}, {"tracestate", state}});
  ASSERT_EQ(r.status, 201) << r.body;
  std::vector<KafkaMessage> messages;
  ASSERT_TRUE(WaitFor(
      [&] {
        messages = ReadTopicWithKcat(mock_.bootstrap(), "traced_due");
        return messages.size() >= 2;
      },
      std::chrono::seconds(20)));
  ASSERT_EQ(messages.size(), 2u);
  for (KafkaMessage& m : messages) {
    // Both tasks of the batch take the request's headers (null is no field of their own).
    EXPECT_EQ(m.headers["traceparent"], parent) << m.value;
    EXPECT_EQ(m.headers["tracestate"], state) << m.value;
    EXPECT_EQ(m.headers.count("delayq-task-id"), 1u);
  }
}

TEST_F(KafkaSink, BadSinkFieldsAre400NamingTheFieldAndStoreNothing) {
  Start(Yaml());
  struct Case {
    std::string sink;
    std::string names;
  };
  std::vector<Case> cases = {
      {R"({"nats":{"subject":"x"}})", "sink names an unknown sink 'nats'"},
      {R"({"redis_stream":{"stream":"s"}})", "sink.redis_stream: the Redis Streams sink is not"},
      {R"({"kafka":{"topic":"bad topic"}})", "sink.kafka.topic 'bad topic' is not a Kafka topic"},
      {R"({"kafka":{"topic":".."}})", "sink.kafka.topic cannot be '.' or '..'"},
      {R"({"kafka":{"topic":")" + std::string(250, 'a') + R"("}})", "sink.kafka.topic must be"},
      {R"({"kafka":{"topic":"t","partition":1}})", "sink.kafka has an unknown field 'partition'"},
      {R"({"kafka":{"key":7}})", "sink.kafka.key must be a string"},
      {R"("kafka")", "sink must be an object"},
  };
  for (const Case& c : cases) {
    int status = 0;
    json::value r = Call("POST", "/v1/topics/sink_bad/tasks",
                         R"({"payload":"p","sink":)" + c.sink + "}", &status);
    EXPECT_EQ(status, 400) << c.sink;
    std::string message = json::serialize(r);
    EXPECT_NE(message.find(c.names), std::string::npos) << c.sink << " -> " << message;
  }
  int status = 0;
  json::value r =
      Call("POST", "/v1/topics/sink_bad/tasks",
           R"({"payload":"p","sink":{"kafka":{}},"callback":{"url":"http://x/"}})", &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(json::serialize(r).find("a callback or a sink, not both"), std::string::npos);
  // A batch with one bad sink stores none of its tasks.
  r = Call(
      "POST", "/v1/topics/sink_bad/tasks:batch",
      R"({"tasks":[{"payload":"a","sink":{"kafka":{}}},{"payload":"b","sink":{"kafka":{"topic":"a b"}}}]})",
      &status);
  EXPECT_EQ(status, 400);
  EXPECT_NE(json::serialize(r).find("tasks[1].sink.kafka.topic"), std::string::npos)
      << json::serialize(r);
  json::value topics = Call("GET", "/v1/topics", "");
  EXPECT_EQ(json::serialize(topics).find("sink_bad"), std::string::npos)
      << "a refused add stored something: " << json::serialize(topics);
}

TEST(KafkaSinkConfig, BadSettingsStopTheStartNamingTheKey) {
  TempDir dir;
  struct Case {
    std::string yaml;
    std::string names;
  };
  std::vector<Case> cases = {
      {"sinks:\n  kafka:\n    brokers: 127.0.0.1:1\n    properties:\n      acks: \"1\"\n",
       "sinks.kafka.properties.acks must be all"},
      {"sinks:\n  kafka:\n    brokers: 127.0.0.1:1\n    properties:\n      no.such.thing: x\n",
       "sinks.kafka.properties.no.such.thing"},
      {"sinks:\n  kafka:\n    brokers: 127.0.0.1:1\n    default_topic: \"a b\"\n",
       "sinks.kafka.default_topic"},
      {"sinks:\n  redis_stream:\n    url: http://x\n", "sinks.redis_stream.url"},
      {"topics:\n  t:\n    sink:\n      kafka: {topic: x}\n",
       "topics.t.sink.kafka: the Kafka sink is not configured"},
  };
  for (const Case& c : cases) {
    std::string path = dir.Sub("bad.yaml");
    std::ofstream(path) << c.yaml;
    auto run = testing::RunProcess({ServerProcess::BinaryPath(), "serve", "--config", path,
                                    "--listen", "127.0.0.1:0", "--data-dir", dir.Sub("data")});
    EXPECT_EQ(run.exit_code, 2) << c.yaml << run.err;
    EXPECT_NE(run.err.find(c.names), std::string::npos) << c.yaml << " -> " << run.err;
  }
}

TEST_F(KafkaSink, BrokerDownAtStartStartsAndDeliversOnceItIsUp) {
  ASSERT_TRUE(mock_.CreateTopic("k_late", 1));
  ASSERT_TRUE(mock_.BrokersDown());
  Start(Yaml());
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = client_->Get("/readyz");
        return r.status == 200 && r.body.find("unavailable") != std::string::npos;
      },
      std::chrono::seconds(10)))
      << client_->Get("/readyz").body;
  EXPECT_EQ(Metric("delayq_sink_up{sink=\"kafka\"}"), 0);
  // The dashboard's view of the same.
  json::value stats = Call("GET", "/v1/stats/sinks", "");
  ASSERT_EQ(stats.at("sinks").as_array().size(), 1u) << json::serialize(stats);
  EXPECT_EQ(stats.at("sinks").at(0).at("sink"), "kafka");
  EXPECT_EQ(stats.at("sinks").at(0).at("status"), "unavailable");
  std::vector<Added> added = AddBatch("sink_late", "k_late", 3, WallClockMs(), 0);
  ASSERT_EQ(added.size(), 3u);
  ASSERT_TRUE(mock_.BrokersUp());
  std::multimap<std::string, KafkaMessage> read;
  ASSERT_TRUE(WaitAllProduced(added, {"k_late"}, std::chrono::seconds(30), &read));
  EXPECT_TRUE(WaitFor([&] { return Metric("delayq_sink_up{sink=\"kafka\"}") == 1; },
                      std::chrono::seconds(10)));
  EXPECT_TRUE(WaitFor(
      [&] {
        json::value now = Call("GET", "/v1/stats/sinks", "");
        return now.at("sinks").at(0).at("status") == "available" &&
               now.at("sinks").at(0).at("produced").to_number<int64_t>() == 3;
      },
      std::chrono::seconds(10)));
}

// store: redis, two instances sharing one Redis, both with the Kafka sink: each due task is
// claimed by one of them and produced once.
TEST_F(KafkaSink, TwoInstancesOnRedisProduceEachTaskOnce) {
  ASSERT_TRUE(mock_.CreateTopic("k_shared", 4));
  testing::RedisServer redis(dir_.Sub("redis"));
  ASSERT_TRUE(redis.Start());
  std::string path = dir_.Sub("shared.yaml");
  std::ofstream(path) << Yaml();
  std::vector<std::string> flags = {"--config", path,          "--store",
                                    "redis",    "--redis-url", redis.url()};
  ServerProcess a(dir_.Sub("a"), flags), b(dir_.Sub("b"), flags);
  ASSERT_TRUE(a.Start()) << a.last_error();
  ASSERT_TRUE(b.Start()) << b.last_error();
  std::vector<Added> added;
  int64_t first_due = WallClockMs() + 500;
  for (ServerProcess* server : {&a, &b}) {
    client_ = std::make_unique<HttpClient>(server->address());
    auto batch = AddBatch("sink_shared", "k_shared", 200, first_due, 1000);
    ASSERT_EQ(batch.size(), 200u);
    added.insert(added.end(), batch.begin(), batch.end());
  }
  std::multimap<std::string, KafkaMessage> read;
  ASSERT_TRUE(WaitAllProduced(added, {"k_shared"}, std::chrono::seconds(30), &read))
      << read.size() << " of 400";
  EXPECT_EQ(read.size(), 400u) << "a task was produced by both instances";
  std::map<std::string, int> by_instance;
  for (const Added& a_task : added) {
    ASSERT_EQ(read.count(a_task.id), 1u) << a_task.id;
    ExpectMessageOf(a_task, read.find(a_task.id)->second);
  }
  auto produced = [](ServerProcess& s) {
    HttpClient c(s.address());
    std::string text = c.Get("/metrics").body;
    std::string series = "\ndelayq_sink_produced_total{sink=\"kafka\"} ";
    size_t at = text.find(series);
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + series.size()));
  };
  double from_a = produced(a), from_b = produced(b);
  std::cout << "store: redis, two instances: 400 tasks, 400 messages (" << from_a << " from a, "
            << from_b << " from b)\n";
  EXPECT_EQ(from_a + from_b, 400);
}

}  // namespace
}  // namespace delayq
