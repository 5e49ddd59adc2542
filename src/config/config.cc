#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>
#include <set>

#include "common/duration.h"

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

// Prefixes a setter's message with the key and where the value came from.
Result<void> Apply(const Setting& setting, Config& config, std::string_view value,
                   std::string_view source) {
  auto applied = setting.set(config, value);
  if (applied) return {};
  std::string message = applied.error().message;
  if (message.rfind(": ", 0) == 0) message.erase(0, 2);
  return Fail(Errc::kInvalidArgument, std::string(source) + ": " + setting.key + ": " + message);
}

void Flatten(const YAML::Node& node, const std::string& prefix,
             std::map<std::string, YAML::Node>* out) {
  for (const auto& item : node) {
    std::string key = prefix + item.first.as<std::string>();
    if (item.second.IsMap() && key != "services" && key != "topics" &&
        key != "sinks.kafka.properties") {
      Flatten(item.second, key + ".", out);
    } else {
      (*out)[key] = item.second;
    }
  }
}

Result<void> ApplyServices(Config& config, const YAML::Node& node, std::string_view source) {
  if (!node.IsMap()) {
    return Fail(Errc::kInvalidArgument,
                std::string(source) + ": services must map a name to a list of base URLs");
  }
  for (const auto& item : node) {
    std::string name = item.first.as<std::string>();
    std::vector<std::string> urls;
    if (item.second.IsScalar()) {
      urls.push_back(item.second.as<std::string>());
    } else if (item.second.IsSequence()) {
      for (const auto& url : item.second) urls.push_back(url.as<std::string>());
    }
    if (urls.empty()) {
      return Fail(Errc::kInvalidArgument, std::string(source) + ": services." + name +
                                              " must be a base URL or a list of them");
    }
    for (const auto& url : urls) {
      if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
        return Fail(Errc::kInvalidArgument, std::string(source) + ": services." + name + ": '" +
                                                url + "' must start with http:// or https://");
      }
    }
    config.services[name] = std::move(urls);
  }
  return {};
}

// YAML scalars and maps to JSON text (for a topic's default callback); the API layer
// validates the result like a callback given on an add.
// Only timeout_ms becomes a number; every other scalar (header values too) stays a string.
std::string YamlToJson(const YAML::Node& node, std::string_view key = "") {
  if (node.IsMap()) {
    std::string out = "{";
    for (const auto& item : node) {
      if (out.size() > 1) out += ",";
      std::string name = item.first.as<std::string>();
      out += YamlToJson(item.first) + ":" + YamlToJson(item.second, name);
    }
    return out + "}";
  }
  if (node.IsSequence()) {
    std::string out = "[";
    for (const auto& item : node) out += (out.size() > 1 ? "," : "") + YamlToJson(item);
    return out + "]";
  }
  std::string text = node.IsNull() ? "" : node.as<std::string>();
  bool numeric = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  if (numeric && key == "timeout_ms") return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

Result<void> ApplyTopics(Config& config, const YAML::Node& node, std::string_view source) {
  std::string where(source);
  if (!node.IsMap()) return Fail(Errc::kInvalidArgument, where + ": topics must be a mapping");
  for (const auto& item : node) {
    std::string name = item.first.as<std::string>();
    std::string prefix = where + ": topics." + name;
    if (!item.second.IsMap()) return Fail(Errc::kInvalidArgument, prefix + " must be a mapping");
    Config::Topic topic;
    for (const auto& field : item.second) {
      std::string key = field.first.as<std::string>();
      if (key == "callback") {
        if (!field.second.IsMap()) {
          return Fail(Errc::kInvalidArgument, prefix + ".callback must be a mapping");
        }
        topic.callback_json = YamlToJson(field.second);
        continue;
      }
      if (key == "sink") {
        // Checked against the configured sinks when the server starts (wiring.cc).
        if (!field.second.IsMap()) {
          return Fail(Errc::kInvalidArgument, prefix +
                                                  ".sink must be a mapping (kafka: {topic, key} or "
                                                  "redis_stream: {stream})");
        }
        topic.sink_json = YamlToJson(field.second);
        continue;
      }
      std::string value = field.second.as<std::string>();
      char* end = nullptr;
      double number = std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size() || number < 0) {
        return Fail(Errc::kInvalidArgument, prefix + "." + key + " must be a number >= 0");
      }
      if (key == "max_attempts" && number >= 1 && number <= 1000) {
        topic.max_attempts = static_cast<int64_t>(number);
      } else if (key == "rate_limit") {
        topic.rate_limit = number;
      } else if (key == "max_in_flight" && number >= 1 && number <= 100000) {
        topic.max_in_flight = static_cast<int64_t>(number);
      } else {
        return Fail(Errc::kInvalidArgument,
                    prefix + "." + key +
                        ": unknown or out of range (max_attempts 1-1000, rate_limit >= 0, "
                        "max_in_flight 1-100000, callback, sink)");
      }
    }
    if (!topic.callback_json.empty() && !topic.sink_json.empty()) {
      return Fail(Errc::kInvalidArgument, prefix + ": give callback or sink, not both");
    }
    config.topics[name] = std::move(topic);
  }
  return {};
}

Result<void> ApplyTokens(Config& config, const YAML::Node& node, const std::string& where) {
  auto bad = [&](const std::string& why) {
    return Fail(Errc::kInvalidArgument, where + ": auth.tokens: " + why);
  };
  if (!node.IsSequence()) return bad("must be a list");
  for (const auto& item : node) {
    Config::TokenRule rule;
    if (item.IsScalar()) {
      rule.token = item.as<std::string>();
      rule.admin = true;
    } else if (item.IsMap()) {
      for (const auto& field : item) {
        std::string key = field.first.as<std::string>();
        if (key == "token") {
          rule.token = field.second.as<std::string>();
        } else if (key == "topics" && field.second.IsSequence()) {
          for (const auto& t : field.second) rule.topics.push_back(t.as<std::string>());
        } else if (key == "can" && field.second.IsSequence()) {
          for (const auto& right : field.second) {
            std::string r = right.as<std::string>();
            if (r == "publish") {
              rule.publish = true;
            } else if (r == "consume") {
              rule.consume = true;
            } else {
              return bad("can: '" + r + "' is not publish or consume");
            }
          }
        } else {
          return bad("unknown field '" + key + "' (token, topics, can)");
        }
      }
      if (rule.topics.empty() || (!rule.publish && !rule.consume)) {
        return bad("a topic token needs topics and can: [publish and/or consume]");
      }
    } else {
      return bad("each entry is a token string (admin) or a mapping");
    }
    if (rule.token.size() < 16) return bad("tokens must be at least 16 characters");
    config.auth_tokens.push_back(std::move(rule));
  }
  return {};
}

Result<void> ApplyFile(Config& config, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return Fail(Errc::kInvalidArgument, "config file " + path + ": " + e.what());
  }
  if (root.IsNull()) return {};
  if (!root.IsMap()) {
    return Fail(Errc::kInvalidArgument, "config file " + path + ": must be a YAML mapping");
  }
  std::map<std::string, YAML::Node> flat;
  try {
    Flatten(root, "", &flat);
    for (const auto& [key, node] : flat) {
      if (key == "services") {
        if (auto ok = ApplyServices(config, node, path); !ok) return ok;
        continue;
      }
      if (key == "topics") {
        if (auto ok = ApplyTopics(config, node, path); !ok) return ok;
        continue;
      }
      if (key == "callbacks.allow_hosts" && node.IsSequence()) {
        config.allow_hosts.clear();
        for (const auto& host : node) config.allow_hosts.push_back(host.as<std::string>());
        continue;
      }
      if (key == "redis.sentinels" && node.IsSequence()) {
        config.redis_sentinels.clear();
        for (const auto& address : node)
          config.redis_sentinels.push_back(address.as<std::string>());
        continue;
      }
      if (key == "etcd.endpoints" && node.IsSequence()) {
        config.etcd_endpoints.clear();
        for (const auto& url : node) config.etcd_endpoints.push_back(url.as<std::string>());
        continue;
      }
      if (key == "sinks.kafka.brokers" && node.IsSequence()) {
        config.kafka_brokers.clear();
        for (const auto& broker : node) config.kafka_brokers.push_back(broker.as<std::string>());
        continue;
      }
      if (key == "sinks.kafka.properties") {
        // librdkafka's names have dots ("sasl.mechanism"), so the mapping is flat; each
        // value is checked by librdkafka when the sink is created, naming the key.
        if (!node.IsMap()) {
          return Fail(Errc::kInvalidArgument,
                      path +
                          ": sinks.kafka.properties must map librdkafka property names to "
                          "values");
        }
        for (const auto& property : node) {
          if (!property.second.IsScalar()) {
            return Fail(Errc::kInvalidArgument, path + ": sinks.kafka.properties." +
                                                    property.first.as<std::string>() +
                                                    " must be a single value");
          }
          config.kafka_properties[property.first.as<std::string>()] =
              property.second.as<std::string>();
        }
        continue;
      }
      if (key == "auth.tokens") {
        if (auto ok = ApplyTokens(config, node, path); !ok) return ok;
        continue;
      }
      const Setting* setting = nullptr;
      for (const Setting& s : Settings()) {
        if (s.key == key) setting = &s;
      }
      if (setting == nullptr) {
        return Fail(Errc::kInvalidArgument,
                    path + ": unknown key '" + key + "' (see docs/CONFIG.md for the list)");
      }
      if (!node.IsScalar()) {
        return Fail(Errc::kInvalidArgument, path + ": " + key + " must be a single value");
      }
      if (auto ok = Apply(*setting, config, node.as<std::string>(), path); !ok) return ok;
    }
  } catch (const YAML::Exception& e) {
    return Fail(Errc::kInvalidArgument, "config file " + path + ": " + e.what());
  }
  return {};
}

}  // namespace

// --- Config-centre values -------------------------------------------------------------------

namespace {

// Parses one value and runs `apply` on the mapping {name: value}, so that a value in etcd
// passes exactly the checks of the same entry in the file.
Result<void> ApplyCentreValue(const std::string& name, const std::string& text,
                              std::string_view source,
                              const std::function<Result<void>(const YAML::Node&)>& apply) {
  try {
    YAML::Node value = YAML::Load(text);
    YAML::Node mapping(YAML::NodeType::Map);
    mapping[name] = value;
    return apply(mapping);
  } catch (const YAML::Exception& e) {
    return Fail(Errc::kInvalidArgument,
                std::string(source) + ": not valid YAML or JSON: " + e.what());
  }
}

}  // namespace

Result<void> ApplyServiceValue(Dynamic& dynamic, const std::string& name, const std::string& text,
                               std::string_view source) {
  return ApplyCentreValue(name, text, source, [&](const YAML::Node& mapping) {
    Config scratch;
    auto ok = ApplyServices(scratch, mapping, source);
    if (ok) dynamic.services[name] = std::move(scratch.services[name]);
    return ok;
  });
}

Result<void> ApplyTopicValue(Dynamic& dynamic, const std::string& name, const std::string& text,
                             std::string_view source) {
  return ApplyCentreValue(name, text, source, [&](const YAML::Node& mapping) {
    Config scratch;
    auto ok = ApplyTopics(scratch, mapping, source);
    if (ok) dynamic.topics[name] = std::move(scratch.topics[name]);
    return ok;
  });
}

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

std::optional<std::string> GetEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

Result<Config> LoadConfig(const std::optional<std::string>& file,
                          const std::map<std::string, std::string>& flags, const EnvLookup& env) {
  Config config;
  if (file) {
    if (auto ok = ApplyFile(config, *file); !ok) return std::unexpected(ok.error());
  }
  for (const Setting& setting : Settings()) {
    std::string name = EnvName(setting.key);
    std::optional<std::string> value = env(name);
    // DELAYQ_SIGNING_KEY is the name deployments already use for the signing key (it is
    // documented as an alias); the derived one works too.
    if (!value && setting.key == "callbacks.signing_key") {
      name = "DELAYQ_SIGNING_KEY";
      value = env(name);
    }
    if (value) {
      if (auto ok = Apply(setting, config, *value, "environment " + name); !ok) {
        return std::unexpected(ok.error());
      }
    }
  }
  for (const auto& [key, value] : flags) {
    const Setting* setting = nullptr;
    for (const Setting& s : Settings()) {
      if (s.key == key) setting = &s;
    }
    if (setting == nullptr) return Fail(Errc::kInvalidArgument, "unknown setting '" + key + "'");
    if (auto ok = Apply(*setting, config, value, "--" + FlagName(key)); !ok) {
      return std::unexpected(ok.error());
    }
  }
  // DELAYQ_AUTH_TOKENS: comma-separated admin tokens, added to those of the file.
  if (auto tokens = env("DELAYQ_AUTH_TOKENS")) {
    std::string_view list = *tokens;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string token(list.substr(0, comma));
      if (!token.empty()) {
        if (token.size() < 16) {
          return Fail(Errc::kInvalidArgument,
                      "environment DELAYQ_AUTH_TOKENS: tokens must be at least 16 characters");
        }
        config.auth_tokens.push_back(Config::TokenRule{token, true, {}, false, false});
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  if (config.config_source == "etcd") {
    // Two places for the same table would leave operators guessing which one is live.
    if (!config.services.empty() || !config.topics.empty()) {
      return Fail(Errc::kInvalidArgument,
                  "config.source is etcd: services and topics come from etcd (etcd.prefix); "
                  "remove them from the file");
    }
    if (config.etcd_endpoints.empty()) {
      return Fail(Errc::kInvalidArgument, "config.source is etcd: etcd.endpoints is empty");
    }
    for (const auto& url : config.etcd_endpoints) {
      if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
        return Fail(Errc::kInvalidArgument,
                    "etcd.endpoints: '" + url + "' must start with http:// or https://");
      }
    }
    if (config.etcd_prefix.empty()) {
      return Fail(Errc::kInvalidArgument, "etcd.prefix must not be empty");
    }
  }
  if (!config.kafka_brokers.empty()) {
    std::string_view topic = config.kafka_default_topic;
    bool ok = !topic.empty() && topic.size() <= 249 && topic != "." && topic != "..";
    for (char c : topic) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-');
    }
    if (!ok) {
      return Fail(Errc::kInvalidArgument,
                  "sinks.kafka.default_topic: '" + config.kafka_default_topic +
                      "' is not a Kafka topic name (1-249 of A-Z, a-z, 0-9, '.', '_', '-')");
    }
  }
  if (config.max_payload_bytes > config.max_body_bytes) {
    return Fail(Errc::kInvalidArgument,
                "limits.max_payload_bytes must not exceed limits.max_body_bytes");
  }
  return config;
}

}  // namespace delayq::config
