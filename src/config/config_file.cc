// The YAML configuration file, and the config centre's values, which pass exactly the checks
// of the same entries in the file.
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <functional>

#include "config/config_impl.h"

namespace delayq::config {
namespace {

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

// The file's keys whose YAML form is a list; the scalar form (commas) goes through the
// settings table like the environment and the flags.
std::vector<std::string>* SequenceField(Config& config, std::string_view key) {
  if (key == "callbacks.allow_hosts") return &config.allow_hosts;
  if (key == "redis.sentinels") return &config.redis_sentinels;
  if (key == "etcd.endpoints") return &config.etcd_endpoints;
  if (key == "sinks.kafka.brokers") return &config.kafka_brokers;
  return nullptr;
}

Result<void> ApplyKafkaProperties(Config& config, const YAML::Node& node, const std::string& path) {
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
    config.kafka_properties[property.first.as<std::string>()] = property.second.as<std::string>();
  }
  return {};
}

// One flattened key of the file ("redis.url", "services", ...).
Result<void> ApplyKey(Config& config, const std::string& key, const YAML::Node& node,
                      const std::string& path) {
  if (key == "services") return ApplyServices(config, node, path);
  if (key == "topics") return ApplyTopics(config, node, path);
  if (key == "auth.tokens") return ApplyTokens(config, node, path);
  if (key == "sinks.kafka.properties") return ApplyKafkaProperties(config, node, path);
  if (std::vector<std::string>* list = SequenceField(config, key); list && node.IsSequence()) {
    list->clear();
    for (const auto& item : node) list->push_back(item.as<std::string>());
    return {};
  }
  const Setting* setting = FindSetting(key);
  if (setting == nullptr) {
    return Fail(Errc::kInvalidArgument,
                path + ": unknown key '" + key + "' (see docs/CONFIG.md for the list)");
  }
  if (!node.IsScalar()) {
    return Fail(Errc::kInvalidArgument, path + ": " + key + " must be a single value");
  }
  return Apply(*setting, config, node.as<std::string>(), path);
}

}  // namespace

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
      if (auto ok = ApplyKey(config, key, node, path); !ok) return ok;
    }
  } catch (const YAML::Exception& e) {
    return Fail(Errc::kInvalidArgument, "config file " + path + ": " + e.what());
  }
  return {};
}

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

}  // namespace delayq::config
