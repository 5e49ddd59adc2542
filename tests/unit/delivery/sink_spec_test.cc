// The sink spec: the v1 `sink` object's checks, the stored form's round trip, and the Kafka
// topic-name rule; and that a stored HTTP callback spec is never taken for a sink.

#include "delivery/sink_spec.h"

#include <gtest/gtest.h>

#include "delivery/callback_spec.h"
#include "delivery/sink.h"

namespace delayq::delivery {
namespace {

const SinkAvailability kBoth{true, true, "delay_base_push"};

TEST(SinkSpec, KafkaTopicDefaultsAndKeyIsKept) {
  auto spec = ParseSinkObject(R"({"kafka":{}})", "sink", kBoth);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->kind, SinkKind::kKafka);
  EXPECT_EQ(spec->destination, "delay_base_push");
  EXPECT_EQ(spec->key, "");
  spec = ParseSinkObject(R"({"kafka":{"topic":"orders.due-1_x","key":"k1"}})", "sink", kBoth);
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->destination, "orders.due-1_x");
  EXPECT_EQ(spec->key, "k1");
}

TEST(SinkSpec, StoredFormRoundTripsAndIsTellableFromACallback) {
  for (const SinkSpec& spec :
       {SinkSpec{SinkKind::kKafka, "t", "k"}, SinkSpec{SinkKind::kKafka, "t", ""},
        SinkSpec{SinkKind::kRedisStream, "s:1", ""}}) {
    std::string stored = EncodeSinkSpec(spec);
    EXPECT_TRUE(IsSinkSpec(stored)) << stored;
    auto back = DecodeSinkSpec(stored);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, spec);
  }
  CallbackSpec callback;
  callback.url = "http://example.com/sink";
  EXPECT_FALSE(IsSinkSpec(EncodeCallbackSpec(callback)));
}

TEST(SinkSpec, RefusalsNameTheField) {
  SinkAvailability kafka_only{true, false, "d"};
  struct Case {
    std::string json;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"nats":{}})", "tasks[3].sink names an unknown sink 'nats' (kafka or redis_stream)"},
           {R"({})", "tasks[3].sink must be an object with one field"},
           {R"({"kafka":{},"redis_stream":{"stream":"s"}})", "tasks[3].sink must be an object"},
           {R"({"redis_stream":{"stream":"s"}})",
            "tasks[3].sink.redis_stream: the Redis Streams sink is not configured"},
           {R"({"kafka":{"topic":""}})", "tasks[3].sink.kafka.topic must be 1 to 249"},
           {R"({"kafka":{"topic":"."}})", "tasks[3].sink.kafka.topic cannot be '.' or '..'"},
           {R"({"kafka":{"topic":"a/b"}})", "tasks[3].sink.kafka.topic 'a/b' is not a Kafka topic"},
           {R"({"kafka":{"key":""}})", "tasks[3].sink.kafka.key must be 1 to 1024 bytes"},
           {R"({"kafka":{"topic":1}})", "tasks[3].sink.kafka.topic must be a string"},
           {R"({"kafka":[]})", "tasks[3].sink.kafka must be an object"},
       }) {
    auto spec = ParseSinkObject(c.json, "tasks[3].sink", kafka_only);
    ASSERT_FALSE(spec) << c.json;
    EXPECT_EQ(spec.error().code, Errc::kInvalidArgument);
    EXPECT_EQ(spec.error().message.rfind(c.message, 0), 0u) << spec.error().message;
  }
  auto no_kafka = ParseSinkObject(R"({"kafka":{}})", "sink", SinkAvailability{});
  ASSERT_FALSE(no_kafka);
  EXPECT_EQ(no_kafka.error().message,
            "sink.kafka: the Kafka sink is not configured (sinks.kafka.brokers)");
  auto stream = ParseSinkObject(R"({"redis_stream":{}})", "sink", kBoth);
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error().message, "sink.redis_stream.stream is required");
}

TEST(SinkSpec, KafkaTopicNameRule) {
  EXPECT_TRUE(CheckKafkaTopicName(std::string(249, 'a'), "t"));
  EXPECT_FALSE(CheckKafkaTopicName(std::string(250, 'a'), "t"));
  EXPECT_TRUE(CheckKafkaTopicName("...", "t"));  // only "." and ".." are reserved
  EXPECT_FALSE(CheckKafkaTopicName("ü", "t"));
}

TEST(SinkHeaders, CarryIdTopicDueTimeAndAttempt) {
  Task task;
  task.id = 42;
  task.topic = "orders";
  task.due_at_ms = 1'700'000'000'123;
  task.attempts = 3;
  auto headers = SinkHeaders(task);
  ASSERT_EQ(headers.size(), 4u);
  EXPECT_EQ(headers[0], std::make_pair(std::string("delayq-task-id"), std::string("42")));
  EXPECT_EQ(headers[1], std::make_pair(std::string("delayq-topic"), std::string("orders")));
  EXPECT_EQ(headers[2],
            std::make_pair(std::string("delayq-due-at-ms"), std::string("1700000000123")));
  EXPECT_EQ(headers[3], std::make_pair(std::string("delayq-attempt"), std::string("3")));
}

// A sink of its own that answers at once, through Sinks: the outcome is counted.
class ImmediateSink : public Sink {
 public:
  explicit ImmediateSink(std::string error) : error_(std::move(error)) {}
  void Send(const Task&, const SinkSpec& spec, std::function<void(SinkOutcome)> done) override {
    destinations.push_back(spec.destination);
    done(SinkOutcome{error_});
  }
  std::string Problem() const override { return ""; }
  void Flush(int64_t) override {}
  std::vector<std::string> destinations;

 private:
  std::string error_;
};

TEST(Sinks, CountOutcomesPerSinkAndRefuseAnUnconfiguredOne) {
  ImmediateSink kafka("");
  Sinks sinks(&kafka, nullptr);
  Task task;
  std::string seen = "unset";
  sinks.Send(task, SinkSpec{SinkKind::kKafka, "t", ""}, [&](SinkOutcome o) { seen = o.error; });
  EXPECT_EQ(seen, "");
  EXPECT_EQ(kafka.destinations, std::vector<std::string>{"t"});
  EXPECT_EQ(sinks.metrics(SinkKind::kKafka).produced.load(), 1u);
  EXPECT_EQ(sinks.metrics(SinkKind::kKafka).in_flight.load(), 0);
  sinks.Send(task, SinkSpec{SinkKind::kRedisStream, "s", ""},
             [&](SinkOutcome o) { seen = o.error; });
  EXPECT_EQ(seen, "the redis_stream sink is not configured on this server");
  EXPECT_EQ(sinks.metrics(SinkKind::kRedisStream).failed.load(), 1u);
}

}  // namespace
}  // namespace delayq::delivery
