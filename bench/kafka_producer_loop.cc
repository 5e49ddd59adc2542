// The reference of the sinks section of bench/run.py: a plain librdkafka producer loop, with the
// settings of delayq's Kafka sink (idempotent, acks=all, one copy of each value), producing `count`
// messages of `size` bytes to `topic` as fast as librdkafka takes them, and waiting for every
// delivery report. Prints one JSON line: {"messages", "failed", "seconds", "per_second"}.
//
//   kafka_producer_loop BOOTSTRAP TOPIC COUNT SIZE

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: kafka_producer_loop BOOTSTRAP TOPIC COUNT SIZE\n");
    return 2;
  }
  const std::string topic = argv[2];
  const long count = std::atol(argv[3]);
  const std::string value(static_cast<size_t>(std::atol(argv[4])), 'x');
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (auto [name, v] : {std::pair<const char*, const char*>{"bootstrap.servers", argv[1]},
                         {"enable.idempotence", "true"},
                         {"acks", "all"},
                         {"log_level", "3"}}) {
    if (rd_kafka_conf_set(conf, name, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "%s: %s\n", name, errstr);
      return 1;
    }
  }
  static std::atomic<long> ok{0}, failed{0};
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    (m->err ? failed : ok).fetch_add(1);
  });
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    std::fprintf(stderr, "%s\n", errstr);
    return 1;
  }
  // Connected and the topic known before the clock starts, as for delayq's warm producer.
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  rd_kafka_metadata(rk, 0, rkt, &metadata, 10'000);
  if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
  rd_kafka_topic_destroy(rkt);
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    std::string key = std::to_string(i);
    for (;;) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::fprintf(stderr, "produce: %s\n", rd_kafka_err2str(err));
        return 1;
      }
      rd_kafka_poll(rk, 1);
    }
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 60'000);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"messages\": %ld, \"failed\": %ld, \"seconds\": %.3f, \"per_second\": %.0f}\n",
              ok.load(), failed.load(), seconds, static_cast<double>(ok.load()) / seconds);
  rd_kafka_destroy(rk);
  return failed.load() == 0 && ok.load() == count ? 0 : 1;
}
