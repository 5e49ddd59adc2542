#include "delivery/kafka_sink.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>

namespace delayq::delivery {

namespace {

// While the cluster cannot be reached, ask it for metadata this often, so that /readyz
// turns back as soon as it answers (a delivery report would, too, but none may be due).
constexpr int kProbeIntervalMs = 1'000;
constexpr int kProbeTimeoutMs = 1'000;
// How long one rd_kafka_poll waits for delivery reports: bounds how late a stop is seen.
constexpr int kPollMs = 100;

// What the sink's guarantee rests on: the user's properties may not change these.
constexpr std::pair<const char*, const char*> kFixed[] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
};

// One message's context from Send to its delivery report (rkmessage->_private).
struct Pending {
  std::function<void(SinkOutcome)> done;
  std::string topic;
};

}  // namespace

struct KafkaSink::Handle {
  rd_kafka_t* rk = nullptr;
  ~Handle() {
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

namespace {

// Sets the user's properties, then those the sink relies on, the brokers and the message
// timeout; returns the message timeout in effect. Errors name the setting.
Result<int64_t> ApplyProperties(rd_kafka_conf_t* conf, const KafkaSinkConfig& config) {
  char errstr[512];
  auto set = [&](const std::string& name, const std::string& value,
                 const std::string& key) -> Result<void> {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      return Fail(Errc::kInvalidArgument, key + ": " + errstr);
    }
    return {};
  };
  int64_t timeout_ms = config.message_timeout_ms;
  for (const auto& [name, value] : config.properties) {
    std::string key = "sinks.kafka.properties." + name;
    for (const auto& [fixed, fixed_value] : kFixed) {
      if (name == fixed && value != fixed_value) {
        return Fail(Errc::kInvalidArgument,
                    key + " must be " + fixed_value +
                        " (the sink relies on it: a task is done only once its message "
                        "is stored, and written once)");
      }
    }
    if (name == "bootstrap.servers" || name == "metadata.broker.list") {
      return Fail(Errc::kInvalidArgument, key + ": give the brokers as sinks.kafka.brokers");
    }
    if (name == "message.timeout.ms" || name == "delivery.timeout.ms") {
      int64_t v = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || end != value.data() + value.size() || v <= 0) {
        return Fail(Errc::kInvalidArgument, key + " must be a positive number of ms");
      }
      timeout_ms = v;
    }
    if (auto ok = set(name, value, key); !ok) return std::unexpected(ok.error());
  }
  for (const auto& [fixed, fixed_value] : kFixed) {
    if (auto ok = set(fixed, fixed_value, std::string("sinks.kafka.properties.") + fixed); !ok) {
      return std::unexpected(ok.error());
    }
  }
  if (auto ok = set("bootstrap.servers", config.brokers, "sinks.kafka.brokers"); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto ok = set("message.timeout.ms", std::to_string(timeout_ms),
                    "sinks.kafka.properties.message.timeout.ms");
      !ok) {
    return std::unexpected(ok.error());
  }
  return timeout_ms;
}

}  // namespace

Result<std::unique_ptr<KafkaSink>> KafkaSink::Create(const KafkaSinkConfig& config) {
  if (config.brokers.empty()) {
    return Fail(Errc::kInvalidArgument, "sinks.kafka.brokers must name at least one broker");
  }
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto applied = ApplyProperties(conf, config);
  if (!applied) {
    rd_kafka_conf_destroy(conf);
    return std::unexpected(applied.error());
  }
  int64_t timeout_ms = *applied;
  std::unique_ptr<KafkaSink> sink(new KafkaSink());
  sink->message_timeout_ms_ = timeout_ms;
  sink->problem_ = "not connected yet";
  rd_kafka_conf_set_opaque(conf, sink.get());
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* message, void*) {
    std::unique_ptr<Pending> pending(static_cast<Pending*>(message->_private));
    SinkOutcome outcome;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      outcome.error = "kafka topic " + pending->topic + ": " + rd_kafka_err2str(message->err);
    }
    pending->done(std::move(outcome));
  });
  rd_kafka_conf_set_error_cb(conf, [](rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<KafkaSink*>(opaque);
    auto code = static_cast<rd_kafka_resp_err_t>(err);
    spdlog::warn("msg=\"kafka sink error\" error=\"{}\" reason=\"{}\"", rd_kafka_err2str(code),
                 reason);
    if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || code == RD_KAFKA_RESP_ERR__RESOLVE ||
        code == RD_KAFKA_RESP_ERR__FATAL) {
      self->SetProblem(std::string(rd_kafka_err2str(code)) + ": " + reason);
    }
  });
  // librdkafka's own log lines go through spdlog. Its connection errors (level 3) are
  // reported again, once per kind, through the error callback above: debug here.
  rd_kafka_conf_set_log_cb(
      conf, [](const rd_kafka_t*, int level, const char* fac, const char* buf) {
        if (level <= 2) {
          spdlog::error("msg=\"librdkafka\" facility={} text=\"{}\"", fac, buf);
        } else if (level <= 5) {
          spdlog::debug("msg=\"librdkafka\" facility={} text=\"{}\"", fac, buf);
        }
      });
  sink->handle_ = std::make_unique<Handle>();
  sink->handle_->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (sink->handle_->rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Fail(Errc::kInvalidArgument, std::string("sinks.kafka: ") + errstr);
  }
  // From here librdkafka owns conf.
  sink->poller_.Start([s = sink.get()] { s->PollLoop(); });
  sink->prober_.Start([s = sink.get()] { s->ProbeLoop(); });
  return sink;
}

KafkaSink::~KafkaSink() {
  if (handle_ != nullptr && handle_->rk != nullptr) {
    // Messages still queued are reported as purged, so that each done runs once.
    rd_kafka_purge(handle_->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  }
  prober_.Stop();
  poller_.Stop();
  if (handle_ != nullptr && handle_->rk != nullptr) rd_kafka_poll(handle_->rk, 0);
}

void KafkaSink::PollLoop() {
  while (!poller_.stopping()) rd_kafka_poll(handle_->rk, kPollMs);
}

void KafkaSink::ProbeLoop() {
  do {
    if (!Problem().empty()) {
      const rd_kafka_metadata_t* metadata = nullptr;
      rd_kafka_resp_err_t err =
          rd_kafka_metadata(handle_->rk, 0, nullptr, &metadata, kProbeTimeoutMs);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        bool any = metadata->broker_cnt > 0;
        rd_kafka_metadata_destroy(metadata);
        if (any) SetProblem("");
      } else {
        std::string was = Problem();
        if (was == "not connected yet") {
          SetProblem(std::string("cannot reach sinks.kafka.brokers: ") + rd_kafka_err2str(err));
        }
      }
    }
  } while (prober_.SleepFor(std::chrono::milliseconds(kProbeIntervalMs)));
}

void KafkaSink::SetProblem(std::string problem) {
  std::lock_guard lock(problem_mu_);
  if (problem_ != problem) {
    if (problem.empty()) spdlog::info("msg=\"kafka sink connected\"");
    problem_ = std::move(problem);
  }
}

std::string KafkaSink::Problem() const {
  std::lock_guard lock(problem_mu_);
  return problem_;
}

void KafkaSink::Flush(int64_t timeout_ms) {
  rd_kafka_flush(handle_->rk, static_cast<int>(timeout_ms));
}

void KafkaSink::Send(const Task& task, const SinkSpec& spec,
                     std::function<void(SinkOutcome)> done) {
  std::string key = spec.key.empty() ? std::to_string(task.id) : spec.key;
  rd_kafka_headers_t* headers = rd_kafka_headers_new(5);
  for (const auto& [name, value] : SinkHeaders(task)) {
    rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                        static_cast<ssize_t>(value.size()));
  }
  auto* pending = new Pending{std::move(done), spec.destination};
  rd_kafka_resp_err_t err = rd_kafka_producev(
      handle_->rk, RD_KAFKA_V_TOPIC(spec.destination.c_str()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_VALUE(const_cast<char*>(task.payload.data()), task.payload.size()),
      RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_HEADERS(headers),
      RD_KAFKA_V_OPAQUE(pending), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Not queued: the headers and the context are still ours.
    rd_kafka_headers_destroy(headers);
    std::unique_ptr<Pending> owned(pending);
    owned->done(SinkOutcome{"kafka topic " + spec.destination + ": " + rd_kafka_err2str(err)});
  }
}

}  // namespace delayq::delivery
