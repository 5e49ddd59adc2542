#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/defaults.h"
#include "common/result.h"
#include "common/stoppable_thread.h"
#include "delivery/sink.h"

namespace delayq::delivery {

struct KafkaSinkConfig {
  std::string brokers;  // bootstrap.servers
  // librdkafka properties (SASL, SSL, linger.ms, ...), passed through; they cannot turn off
  // idempotence or lower acks.
  std::map<std::string, std::string> properties;
  // How long librdkafka keeps retrying one message (message.timeout.ms) unless the
  // properties say; the engine's delivering lease must be longer.
  int64_t message_timeout_ms = defaults::kCallbackTimeoutMs;
};

// Produces due tasks to Kafka with librdkafka: an idempotent producer with acks=all, so a
// message librdkafka retries is written once per Send. A Send succeeds only when the
// delivery report says the message is stored; a failed report's error text becomes the
// outcome (and so the task's last_error). One thread serves the delivery reports, another
// probes the cluster while it cannot be reached.
class KafkaSink final : public Sink {
 public:
  // Errors name the configuration key ("sinks.kafka.properties.acks: ...").
  static Result<std::unique_ptr<KafkaSink>> Create(const KafkaSinkConfig& config);
  ~KafkaSink() override;

  void Send(const Task& task, const SinkSpec& spec, std::function<void(SinkOutcome)> done) override;
  std::string Problem() const override;
  void Flush(int64_t timeout_ms) override;

  // The message timeout in force (the configured one or the properties' override).
  int64_t message_timeout_ms() const { return message_timeout_ms_; }

 private:
  struct Handle;
  KafkaSink() = default;
  void PollLoop();
  void ProbeLoop();
  void SetProblem(std::string problem);

  std::unique_ptr<Handle> handle_;
  int64_t message_timeout_ms_ = 0;
  mutable std::mutex problem_mu_;
  std::string problem_;  // guarded by problem_mu_
  StoppableThread poller_;
  StoppableThread prober_;
};

}  // namespace delayq::delivery
