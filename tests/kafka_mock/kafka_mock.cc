// kafka_mock: librdkafka's mock Kafka cluster as a process of its own, for tests and the
// benchmark. It speaks the Kafka protocol on loopback, so the producer under test and the
// independent consumer (kcat) talk to it exactly as to a real cluster.
//
//   kafka_mock [--brokers N]      (default 3)
//
// Prints "bootstrap HOST:PORT,..." on stdout, then reads one command per line on stdin and
// answers each with "ok" or "error <why>" (stdin closed: it exits):
//   down <broker|-1>                      disconnect a broker (-1: all), refuse connections
//   up <broker|-1>                        accept connections again
//   errors <api_key> <error_code> <n>     the next n requests of that API fail with the code
//                                         (Produce is api key 0; codes as in the protocol)
//   clear <api_key>                       forget errors still queued for that API
//   create <topic> <partitions> <replication>
//   rtt <broker|-1> <ms>                  delay every answer of the broker

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string Run(rd_kafka_mock_cluster_t* cluster, const std::string& line) {
  std::istringstream in(line);
  std::string verb;
  in >> verb;
  auto check = [](rd_kafka_resp_err_t err) {
    return err == RD_KAFKA_RESP_ERR_NO_ERROR ? std::string("ok")
                                             : std::string("error ") + rd_kafka_err2str(err);
  };
  if (verb == "down" || verb == "up" || verb == "rtt") {
    int32_t broker = 0;
    if (!(in >> broker)) return "error usage: " + verb + " <broker|-1>";
    if (verb == "down") return check(rd_kafka_mock_broker_set_down(cluster, broker));
    if (verb == "up") return check(rd_kafka_mock_broker_set_up(cluster, broker));
    int ms = 0;
    if (!(in >> ms)) return "error usage: rtt <broker|-1> <ms>";
    return check(rd_kafka_mock_broker_set_rtt(cluster, broker, ms));
  }
  if (verb == "errors") {
    int api_key = 0, code = 0;
    size_t count = 0;
    if (!(in >> api_key >> code >> count)) return "error usage: errors <api_key> <code> <n>";
    std::vector<rd_kafka_resp_err_t> errors(count, static_cast<rd_kafka_resp_err_t>(code));
    rd_kafka_mock_push_request_errors_array(cluster, static_cast<int16_t>(api_key), count,
                                            errors.data());
    return "ok";
  }
  if (verb == "clear") {
    int api_key = 0;
    if (!(in >> api_key)) return "error usage: clear <api_key>";
    rd_kafka_mock_clear_request_errors(cluster, static_cast<int16_t>(api_key));
    return "ok";
  }
  if (verb == "create") {
    std::string topic;
    int partitions = 0, replication = 0;
    if (!(in >> topic >> partitions >> replication)) {
      return "error usage: create <topic> <partitions> <replication>";
    }
    return check(rd_kafka_mock_topic_create(cluster, topic.c_str(), partitions, replication));
  }
  return "error unknown command: " + verb;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 3;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
      brokers = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: kafka_mock [--brokers N]\n");
      return 2;
    }
  }
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the cluster; it never connects anywhere.
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    std::fprintf(stderr, "kafka_mock: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (cluster == nullptr) {
    std::fprintf(stderr, "kafka_mock: could not create the mock cluster\n");
    return 1;
  }
  std::cout << "bootstrap " << rd_kafka_mock_cluster_bootstraps(cluster) << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    std::cout << Run(cluster, line) << std::endl;
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
