#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/defaults.h"
#include "common/result.h"

namespace delayq::config {

// Every setting with its default. docs/CONFIG.md lists them all; config_docs_test fails when
// the two disagree.
struct Config {
  std::string listen = defaults::kListen;
  std::string data_dir = defaults::kDataDir;
  std::string store = defaults::kStore;
  std::string redis_url = defaults::kRedisUrl;
  int64_t redis_poll_ms = defaults::kRedisPollMs;
  int64_t redis_connect_timeout_ms = defaults::kRedisConnectTimeoutMs;
  int64_t redis_command_timeout_ms = defaults::kRedisCommandTimeoutMs;
  std::vector<std::string> redis_sentinels;  // host:port each; empty: redis.url is the server
  std::string redis_sentinel_master;
  std::string redis_sentinel_user;
  std::string redis_sentinel_password;
  int64_t redis_wait_replicas = defaults::kRedisWaitReplicas;
  int64_t redis_wait_timeout_ms = defaults::kRedisWaitTimeoutMs;
  std::string durability = "fsync";
  int64_t retention_ms = defaults::kRetentionMs;
  int64_t node_id = 0;
  int64_t io_threads = defaults::kIoThreads;
  int64_t near_window_ms = defaults::kNearWindowMs;
  int64_t near_window_max_tasks = defaults::kNearWindowMaxTasks;
  uint64_t max_payload_bytes = defaults::kMaxPayloadBytes;
  uint64_t max_body_bytes = defaults::kMaxBodyBytes;
  uint64_t max_header_bytes = defaults::kMaxHeaderBytes;
  int64_t max_delay_ms = defaults::kMaxDelayMs;
  int64_t idle_timeout_ms = defaults::kIdleTimeoutMs;
  int64_t max_connections = defaults::kMaxConnections;
  int64_t max_queued = defaults::kMaxQueued;
  uint64_t min_free_disk_bytes = defaults::kMinFreeDiskBytes;
  int64_t purge_interval_ms = defaults::kPurgeIntervalMs;
  int64_t shutdown_grace_ms = 10'000;
  std::string log_level = "info";
  bool access_log = true;
  int64_t metrics_max_topics = defaults::kMetricsMaxTopics;
  std::map<std::string, std::vector<std::string>> services;  // name -> base URLs
  std::string signing_key;                                   // callbacks.signing_key
  // auth.tokens: a plain string is a global admin token; a mapping
  // {token, topics: [...], can: [publish, consume]} is limited to those topics and rights.
  struct TokenRule {
    std::string token;
    bool admin = false;
    std::vector<std::string> topics;
    bool publish = false;
    bool consume = false;
    bool operator==(const TokenRule&) const = default;
  };
  std::vector<TokenRule> auth_tokens;
  int64_t max_attempts =
      defaults::kMaxAttempts;  // deliveries of a task before it is dead, unless it says
  int64_t callback_timeout_ms = defaults::kCallbackTimeoutMs;
  int64_t retry_initial_ms = defaults::kRetryInitialMs;
  int64_t retry_max_ms = defaults::kRetryMaxMs;
  double retry_multiplier = defaults::kRetryMultiplier;
  // Callback calls in flight over all topics; bounds the HTTP client's work whatever the
  // number of due topics (docs/CONFIG.md).
  int64_t callback_max_in_flight = defaults::kCallbackMaxInFlight;
  int64_t callback_max_in_flight_per_topic = defaults::kCallbackMaxInFlightPerTopic;
  int64_t callback_max_per_host = defaults::kCallbackMaxPerHost;
  int64_t callback_max_connections = defaults::kCallbackMaxConnections;
  std::vector<std::string> allow_hosts;  // callbacks.allow_hosts; empty: any host

  // Sinks (docs/CONFIG.md, "Sinks"): Kafka when brokers are given, Redis Streams when a URL is.
  std::vector<std::string> kafka_brokers;  // sinks.kafka.brokers (host:port each)
  std::string kafka_default_topic = "delay_base_push";
  std::map<std::string, std::string> kafka_properties;  // sinks.kafka.properties (librdkafka)
  std::string redis_stream_url;                         // sinks.redis_stream.url
  int64_t redis_stream_maxlen = 0;                      // XADD MAXLEN ~; 0: no trim

  // Per-topic settings (YAML `topics:` only).
  struct Topic {
    int64_t max_attempts = 0;   // 0: the global max_attempts
    double rate_limit = 0;      // callbacks started per second; 0: unlimited
    int64_t max_in_flight = 0;  // 0: callbacks.max_in_flight_per_topic
    std::string callback_json;  // default callback for tasks that name none ("" none)
    std::string sink_json;      // default sink, as the v1 `sink` object ("" none)
    bool operator==(const Topic&) const = default;
  };
  std::map<std::string, Topic> topics;

  // Where `services` and `topics` come from: "local" (this file) or "etcd" (the config
  // centre, read and followed at run time: config/etcd_source.h, docs/OPERATIONS.md).
  std::string config_source = "local";
  std::vector<std::string> etcd_endpoints = {"http://127.0.0.1:2379"};
  std::string etcd_prefix = "/delayq/";
  int64_t etcd_poll_interval_ms = 1'000;
  int64_t etcd_timeout_ms = 2'000;

  bool operator==(const Config&) const = default;
};

// One scalar setting: its YAML key; the env variable and the flag derive from it
// (`near_window.max_tasks` -> DELAYQ_NEAR_WINDOW_MAX_TASKS, --near-window-max-tasks).
struct Setting {
  std::string key;
  std::string help;
  std::function<Result<void>(Config&, std::string_view)> set;
};

const std::vector<Setting>& Settings();
std::string EnvName(std::string_view key);
std::string FlagName(std::string_view key);  // without the leading "--"

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Builds the configuration: defaults < file < environment < flags. `flags` maps a setting
// key to the value given on the command line. Every error names the key and its source.
Result<Config> LoadConfig(const std::optional<std::string>& file,
                          const std::map<std::string, std::string>& flags, const EnvLookup& env);

// The config centre's part of the configuration: `services` and `topics`, replaced as a
// whole at run time.
struct Dynamic {
  std::map<std::string, std::vector<std::string>> services;
  std::map<std::string, Config::Topic> topics;
  bool operator==(const Dynamic&) const = default;
};

// One config-centre value, checked with the rules of the file's `services.<name>` (a base URL
// or a list of them) or `topics.<name>` (a mapping); the text is YAML or JSON. `source`
// names the value in messages (the etcd key).
Result<void> ApplyServiceValue(Dynamic& dynamic, const std::string& name, const std::string& text,
                               std::string_view source);
Result<void> ApplyTopicValue(Dynamic& dynamic, const std::string& name, const std::string& text,
                             std::string_view source);

// The process environment.
std::optional<std::string> GetEnv(const std::string& name);

}  // namespace delayq::config
