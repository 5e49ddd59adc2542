#include "config/config.h"

#include <cstdlib>

#include "config/config_impl.h"

namespace delayq::config {

std::optional<std::string> GetEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

namespace {

Result<void> ApplyEnvironment(Config& config, const EnvLookup& env) {
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
      if (auto ok = Apply(setting, config, *value, "environment " + name); !ok) return ok;
    }
  }
  return {};
}

Result<void> ApplyFlags(Config& config, const std::map<std::string, std::string>& flags) {
  for (const auto& [key, value] : flags) {
    const Setting* setting = FindSetting(key);
    if (setting == nullptr) return Fail(Errc::kInvalidArgument, "unknown setting '" + key + "'");
    if (auto ok = Apply(*setting, config, value, "--" + FlagName(key)); !ok) return ok;
  }
  return {};
}

// DELAYQ_AUTH_TOKENS: comma-separated admin tokens, added to those of the file.
Result<void> ApplyEnvironmentTokens(Config& config, const EnvLookup& env) {
  auto tokens = env("DELAYQ_AUTH_TOKENS");
  if (!tokens) return {};
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
  return {};
}

Result<void> CheckEtcd(const Config& config) {
  if (config.config_source != "etcd") return {};
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
  return {};
}

Result<void> CheckKafkaTopic(const Config& config) {
  if (config.kafka_brokers.empty()) return {};
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
  return {};
}

}  // namespace

Result<Config> LoadConfig(const std::optional<std::string>& file,
                          const std::map<std::string, std::string>& flags, const EnvLookup& env) {
  Config config;
  Result<void> ok = file ? ApplyFile(config, *file) : Result<void>{};
  if (ok) ok = ApplyEnvironment(config, env);
  if (ok) ok = ApplyFlags(config, flags);
  if (ok) ok = ApplyEnvironmentTokens(config, env);
  if (ok) ok = CheckEtcd(config);
  if (ok) ok = CheckKafkaTopic(config);
  if (ok && config.max_payload_bytes > config.max_body_bytes) {
    ok = Fail(Errc::kInvalidArgument,
              "limits.max_payload_bytes must not exceed limits.max_body_bytes");
  }
  if (!ok) return std::unexpected(ok.error());
  return config;
}

}  // namespace delayq::config
