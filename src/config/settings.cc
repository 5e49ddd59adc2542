// The table of scalar settings (key, help, setter with its range) and the names the
// environment and the command line derive from a key.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "common/duration.h"
#include "config/config_impl.h"

namespace delayq::config {
namespace {

Result<void> Invalid(std::string_view key, std::string_view value, std::string_view expected) {
  return Fail(Errc::kInvalidArgument, std::string(key) + ": invalid value '" + std::string(value) +
                                          "'; expected " + std::string(expected));
}

// Setters for each kind of value; each checks its range so that a bad value fails at
// start-up with the key's name, not later at run time.
auto String(std::string Config::*field, std::vector<std::string> allowed = {}) {
  return [field, allowed](Config& c, std::string_view value) -> Result<void> {
    if (!allowed.empty() &&
        std::find(allowed.begin(), allowed.end(), std::string(value)) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : " or ") + a;
      return Fail(Errc::kInvalidArgument,
                  "invalid value '" + std::string(value) + "'; expected " + list);
    }
    c.*field = std::string(value);
    return {};
  };
}

auto Integer(int64_t Config::*field, int64_t min, int64_t max) {
  return [field, min, max](Config& c, std::string_view value) -> Result<void> {
    int64_t parsed = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (ec != std::errc() || end != value.data() + value.size() || parsed < min || parsed > max) {
      return Invalid("", value,
                     "an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }
    c.*field = parsed;
    return {};
  };
}

auto Duration(int64_t Config::*field, int64_t min_ms) {
  return [field, min_ms](Config& c, std::string_view value) -> Result<void> {
    auto ms = ParseDurationMs(value);
    if (!ms) return std::unexpected(ms.error());
    if (*ms < min_ms) {
      return Invalid("", value, "a duration of at least " + std::to_string(min_ms) + "ms");
    }
    c.*field = *ms;
    return {};
  };
}

auto Double(double Config::*field, double min, double max) {
  return [field, min, max](Config& c, std::string_view value) -> Result<void> {
    char* end = nullptr;
    std::string text(value);
    double parsed = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(parsed >= min && parsed <= max)) {
      return Invalid("", value,
                     "a number from " + std::to_string(min) + " to " + std::to_string(max));
    }
    c.*field = parsed;
    return {};
  };
}

auto Bool(bool Config::*field) {
  return [field](Config& c, std::string_view value) -> Result<void> {
    if (value == "true" || value == "on" || value == "yes" || value == "1") {
      c.*field = true;
    } else if (value == "false" || value == "off" || value == "no" || value == "0") {
      c.*field = false;
    } else {
      return Invalid("", value, "true or false");
    }
    return {};
  };
}

// A comma-separated list (the YAML form is a list; the environment and flags use commas).
auto List(std::vector<std::string> Config::*field) {
  return [field](Config& c, std::string_view value) -> Result<void> {
    (c.*field).clear();
    while (!value.empty()) {
      size_t comma = value.find(',');
      std::string_view item = value.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (!item.empty()) (c.*field).emplace_back(item);
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
    return {};
  };
}

auto Size(uint64_t Config::*field, uint64_t min, uint64_t max) {
  return [field, min, max](Config& c, std::string_view value) -> Result<void> {
    auto bytes = ParseSizeBytes(value);
    if (!bytes) return std::unexpected(bytes.error());
    if (*bytes < min || *bytes > max) {
      return Invalid(
          "", value,
          "a size from " + std::to_string(min) + " to " + std::to_string(max) + " bytes");
    }
    c.*field = *bytes;
    return {};
  };
}

}  // namespace

// Prefixes a setter's message with the key and where the value came from.
Result<void> Apply(const Setting& setting, Config& config, std::string_view value,
                   std::string_view source) {
  auto applied = setting.set(config, value);
  if (applied) return {};
  std::string message = applied.error().message;
  if (message.rfind(": ", 0) == 0) message.erase(0, 2);
  return Fail(Errc::kInvalidArgument, std::string(source) + ": " + setting.key + ": " + message);
}

const Setting* FindSetting(std::string_view key) {
  for (const Setting& setting : Settings()) {
    if (setting.key == key) return &setting;
  }
  return nullptr;
}

// One table, one row per setting, in the order of docs/CONFIG.md: longer than a function
// should be, but splitting it would only scatter what config_docs_test compares with the
// document, and each row is one declaration, not logic.
const std::vector<Setting>& Settings() {
  static const std::vector<Setting> settings = {
      {"listen", "HOST:PORT to serve HTTP on (port 0 picks a free one)", String(&Config::listen)},
      {"data_dir", "directory of the embedded store", String(&Config::data_dir)},
      {"store", "storage backend: rocksdb or redis", String(&Config::store, {"rocksdb", "redis"})},
      {"redis.url", "Redis server or any Redis Cluster node for store: redis",
       String(&Config::redis_url)},
      {"redis.poll_interval",
       "store: redis: how often to look for work made due by other instances",
       Duration(&Config::redis_poll_ms, 1)},
      {"redis.connect_timeout", "store: redis: how long one connection attempt may take",
       Duration(&Config::redis_connect_timeout_ms, 10)},
      {"redis.command_timeout",
       "store: redis: how long one command may take before it answers 503 (a hung node)",
       Duration(&Config::redis_command_timeout_ms, 10)},
      {"redis.sentinels",
       "store: redis: Redis Sentinels (host:port, comma-separated) that name the master",
       List(&Config::redis_sentinels)},
      {"redis.sentinel_master", "store: redis: the master's name in the sentinels",
       String(&Config::redis_sentinel_master)},
      {"redis.sentinel_user", "store: redis: user for the sentinels (ACL), if they need one",
       String(&Config::redis_sentinel_user)},
      {"redis.sentinel_password", "store: redis: password for the sentinels, if they need one",
       String(&Config::redis_sentinel_password)},
      {"redis.wait_replicas",
       "store: redis: an add is acknowledged once this many replicas have it (WAIT)",
       Integer(&Config::redis_wait_replicas, 0, 100)},
      {"redis.wait_timeout",
       "store: redis: how long an add waits for redis.wait_replicas (then: outcome unknown)",
       Duration(&Config::redis_wait_timeout_ms, 1)},
      {"durability", "fsync (survives power loss) or buffered (survives a process crash)",
       String(&Config::durability, {"fsync", "buffered"})},
      {"retention", "how long finished tasks stay readable", Duration(&Config::retention_ms, 0)},
      {"node_id", "node number in task ids, 0-1023, unique per instance",
       Integer(&Config::node_id, 0, 1023)},
      {"io_threads", "HTTP event-loop threads", Integer(&Config::io_threads, 1, 64)},
      {"near_window.span", "tasks due within this span are held in memory",
       Duration(&Config::near_window_ms, 100)},
      {"near_window.max_tasks", "upper bound on tasks held in memory",
       Integer(&Config::near_window_max_tasks, 1000, 1'000'000'000)},
      {"limits.max_payload_bytes", "largest task payload (seed: content)",
       Size(&Config::max_payload_bytes, 1, 1ULL << 30)},
      {"limits.max_body_bytes", "largest request body",
       Size(&Config::max_body_bytes, 1024, 1ULL << 31)},
      {"limits.max_header_bytes", "largest request header block",
       Size(&Config::max_header_bytes, 1024, 1 << 20)},
      {"limits.max_delay", "how far ahead a task may be due",
       Duration(&Config::max_delay_ms, 1000)},
      {"limits.idle_timeout", "close a connection idle (or sending slowly) this long",
       Duration(&Config::idle_timeout_ms, 100)},
      {"limits.max_connections", "concurrent connections; more are answered 503",
       Integer(&Config::max_connections, 1, 1'000'000)},
      {"limits.max_queued", "operations waiting for the store before adds get 429",
       Integer(&Config::max_queued, 1, 100'000'000)},
      {"limits.min_free_disk",
       "free space on data_dir's filesystem below which adds get 503 (at most a tenth of it; "
       "0: none)",
       Size(&Config::min_free_disk_bytes, 0, 1ULL << 50)},
      {"purge_interval", "how often finished tasks past retention are deleted",
       Duration(&Config::purge_interval_ms, 10)},
      {"shutdown_grace", "on SIGTERM, how long to wait for requests in flight",
       Duration(&Config::shutdown_grace_ms, 0)},
      {"log_level", "trace, debug, info, warn, error",
       String(&Config::log_level, {"trace", "debug", "info", "warn", "error"})},
      {"access_log",
       "one info line per HTTP request (true or false); 5xx answers are logged anyway",
       Bool(&Config::access_log)},
      {"metrics.max_topics",
       "topics with their own series in /metrics; tasks of later topics count as topic=\"_other\"",
       Integer(&Config::metrics_max_topics, 0, 100'000)},
      {"sinks.kafka.brokers",
       "Kafka bootstrap brokers (host:port, comma-separated); empty: no Kafka sink",
       List(&Config::kafka_brokers)},
      {"sinks.kafka.default_topic", "Kafka topic of a Kafka sink that names none",
       String(&Config::kafka_default_topic)},
      {"sinks.redis_stream.url",
       "Redis of the Redis Streams sink (may be the store's); empty: no Redis Streams sink",
       String(&Config::redis_stream_url)},
      {"sinks.redis_stream.maxlen",
       "XADD MAXLEN ~ of the Redis Streams sink (approximate trim); 0: streams are not trimmed",
       Integer(&Config::redis_stream_maxlen, 0, 1'000'000'000'000)},
      {"callbacks.signing_key", "HMAC-SHA256 key for callback signatures",
       String(&Config::signing_key)},
      {"max_attempts", "deliveries of a task before it is dead, unless the task says",
       Integer(&Config::max_attempts, 1, 1000)},
      {"callbacks.timeout", "how long a callback may take unless it says",
       Duration(&Config::callback_timeout_ms, 100)},
      {"callbacks.retry.initial", "wait before the first retry of a failed callback",
       Duration(&Config::retry_initial_ms, 1)},
      {"callbacks.retry.max", "longest wait between retries", Duration(&Config::retry_max_ms, 1)},
      {"callbacks.retry.multiplier", "growth of the wait from one retry to the next",
       Double(&Config::retry_multiplier, 1.0, 100.0)},
      {"callbacks.max_in_flight", "callback calls in flight over all topics (more due wait)",
       Integer(&Config::callback_max_in_flight, 1, 1'000'000)},
      {"callbacks.max_in_flight_per_topic", "callbacks of one topic in flight at once",
       Integer(&Config::callback_max_in_flight_per_topic, 1, 100'000)},
      {"callbacks.max_per_host", "connections to one callback host at once (more wait)",
       Integer(&Config::callback_max_per_host, 1, 100'000)},
      {"callbacks.max_connections", "open callback connections in all",
       Integer(&Config::callback_max_connections, 1, 1'000'000)},
      {"callbacks.allow_hosts",
       "hosts callbacks may call: names, *.suffix, IPv4 addresses or CIDRs (comma-separated)",
       List(&Config::allow_hosts)},
      {"config.source",
       "where services and topics come from: local (the file) or etcd (followed at run time)",
       String(&Config::config_source, {"local", "etcd"})},
      {"etcd.endpoints", "etcd client URLs for config.source etcd (comma-separated)",
       List(&Config::etcd_endpoints)},
      {"etcd.prefix", "etcd key prefix holding services/<name> and topics/<name>",
       String(&Config::etcd_prefix)},
      {"etcd.poll_interval", "how often the etcd prefix is read for changes",
       Duration(&Config::etcd_poll_interval_ms, 50)},
      {"etcd.timeout", "how long one etcd request may take",
       Duration(&Config::etcd_timeout_ms, 100)},
  };
  return settings;
}

std::string EnvName(std::string_view key) {
  std::string name = "DELAYQ_";
  for (char c : key) name += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(c));
  return name;
}

std::string FlagName(std::string_view key) {
  std::string name;
  for (char c : key) name += (c == '.' || c == '_') ? '-' : c;
  return name;
}

}  // namespace delayq::config
