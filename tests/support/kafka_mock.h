#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace delayq::testing {

// librdkafka's mock Kafka cluster in a process of its own (tests/kafka_mock), on loopback
// ports it picks. Commands go to it over its stdin (see kafka_mock.cc for the list).
// Stopped by the destructor.
class KafkaMock {
 public:
  explicit KafkaMock(int brokers = 3);
  ~KafkaMock();
  KafkaMock(const KafkaMock&) = delete;
  KafkaMock& operator=(const KafkaMock&) = delete;

  bool Start();  // false with the reason in last_error()
  const std::string& bootstrap() const { return bootstrap_; }
  const std::string& last_error() const { return last_error_; }

  // Sends one command line; returns the answer ("ok", "error ...").
  std::string Command(const std::string& line);
  bool BrokersDown() { return Command("down -1") == "ok"; }
  bool BrokersUp() { return Command("up -1") == "ok"; }
  // The next `count` Produce requests fail with Kafka error `code`.
  bool FailProduce(int code, size_t count) {
    return Command("errors 0 " + std::to_string(code) + " " + std::to_string(count)) == "ok";
  }
  bool ClearProduceErrors() { return Command("clear 0") == "ok"; }
  bool CreateTopic(const std::string& topic, int partitions, int replication = 1) {
    return Command("create " + topic + " " + std::to_string(partitions) + " " +
                   std::to_string(replication)) == "ok";
  }

  static std::string BinaryPath();

 private:
  int brokers_;
  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
  std::string pending_;  // read from the child, not yet a whole line
  std::string bootstrap_;
  std::string last_error_;
  bool ReadLine(std::string* line, int timeout_ms);
};

// One message as an independent consumer (kcat) read it back.
struct KafkaMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  std::map<std::string, std::string> headers;
  int64_t timestamp_ms = 0;
};

// Every message of `topic` from the beginning to its current end, read with kcat (not
// delayq's code). Empty with `error` set when kcat fails.
std::vector<KafkaMessage> ReadTopicWithKcat(const std::string& bootstrap, const std::string& topic,
                                            std::string* error = nullptr);

}  // namespace delayq::testing
