#include "config/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.h"

namespace delayq::config {
namespace {

EnvLookup NoEnv() {
  return [](const std::string&) { return std::optional<std::string>(); };
}

TEST(Config, DefaultsWorkWithNoFile) {
  auto config = LoadConfig(std::nullopt, {}, NoEnv());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->listen, "127.0.0.1:7700");
  EXPECT_EQ(config->data_dir, "./data");
  EXPECT_EQ(config->store, "rocksdb");
  EXPECT_EQ(config->redis_url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(config->durability, "fsync");
  EXPECT_EQ(config->retention_ms, 72LL * 3600 * 1000);
}

TEST(Config, NamesDeriveFromKeys) {
  EXPECT_EQ(EnvName("data_dir"), "DELAYQ_DATA_DIR");
  EXPECT_EQ(EnvName("redis.url"), "DELAYQ_REDIS_URL");
  EXPECT_EQ(EnvName("callbacks.signing_key"), "DELAYQ_CALLBACKS_SIGNING_KEY");
  EXPECT_EQ(FlagName("data_dir"), "data-dir");
  EXPECT_EQ(FlagName("redis.url"), "redis-url");
}

TEST(Config, SpecNameForTheSigningKey) {
  auto config = LoadConfig(std::nullopt, {}, [](const std::string& name) {
    return name == "DELAYQ_SIGNING_KEY" ? std::optional<std::string>("k3y") : std::nullopt;
  });
  ASSERT_TRUE(config);
  EXPECT_EQ(config->signing_key, "k3y");
}

TEST(Config, FileThenEnvironmentThenFlags) {
  testing::TempDir dir;
  std::string path = dir.Sub("delayq.yaml");
  std::ofstream(path) << "listen: 0.0.0.0:9000\n"
                         "data_dir: /var/lib/delayq\n"
                         "durability: buffered\n"
                         "retention: 5s\n"
                         "near_window:\n"
                         "  span: 20s\n"
                         "  max_tasks: 5000\n"
                         "services:\n"
                         "  other.server: [\"http://127.0.0.1:8080\"]\n";
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "DELAYQ_DATA_DIR") return "/env/dir";
    if (name == "DELAYQ_RETENTION") return "10s";
    return std::nullopt;
  };
  auto config = LoadConfig(path, {{"retention", "1m"}}, env);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->listen, "0.0.0.0:9000");       // file
  EXPECT_EQ(config->durability, "buffered");       // file
  EXPECT_EQ(config->data_dir, "/env/dir");         // env beats file
  EXPECT_EQ(config->retention_ms, 60'000);         // flag beats env
  EXPECT_EQ(config->near_window_max_tasks, 5000);  // nested key
  EXPECT_EQ(config->near_window_ms, 20'000);
  EXPECT_EQ(config->services.at("other.server").front(), "http://127.0.0.1:8080");
}

TEST(Config, ErrorsNameTheKeyAndTheSource) {
  auto bad_flag = LoadConfig(std::nullopt, {{"durability", "sometimes"}}, NoEnv());
  ASSERT_FALSE(bad_flag);
  EXPECT_NE(bad_flag.error().message.find("--durability"), std::string::npos);
  EXPECT_NE(bad_flag.error().message.find("fsync"), std::string::npos);

  auto bad_env = LoadConfig(std::nullopt, {}, [](const std::string& name) {
    return name == "DELAYQ_NODE_ID" ? std::optional<std::string>("5000") : std::nullopt;
  });
  ASSERT_FALSE(bad_env);
  EXPECT_NE(bad_env.error().message.find("DELAYQ_NODE_ID"), std::string::npos);

  testing::TempDir dir;
  std::string path = dir.Sub("typo.yaml");
  std::ofstream(path) << "retension: 5s\n";
  auto typo = LoadConfig(path, {}, NoEnv());
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message.find("retension"), std::string::npos);
}

TEST(Config, AuthTokensGlobalAndPerTopic) {
  testing::TempDir dir;
  std::string path = dir.Sub("auth.yaml");
  std::ofstream(path) << "auth:\n  tokens:\n    - \"admin-token-0123456789\"\n"
                         "    - token: \"orders-publisher-0123\"\n      topics: [orders]\n"
                         "      can: [publish]\n";
  auto config = LoadConfig(path, {}, NoEnv());
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_EQ(config->auth_tokens.size(), 2u);
  EXPECT_TRUE(config->auth_tokens[0].admin);
  EXPECT_FALSE(config->auth_tokens[1].admin);
  EXPECT_TRUE(config->auth_tokens[1].publish);
  EXPECT_FALSE(config->auth_tokens[1].consume);
  EXPECT_EQ(config->auth_tokens[1].topics, std::vector<std::string>{"orders"});

  std::ofstream(path) << "auth:\n  tokens: [\"short\"]\n";
  auto weak = LoadConfig(path, {}, NoEnv());
  ASSERT_FALSE(weak);
  EXPECT_NE(weak.error().message.find("16 characters"), std::string::npos);
}

TEST(Config, AccessLogAndMetricsCapFromFileEnvironmentAndFlags) {
  auto none = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  auto defaults = LoadConfig(std::nullopt, {}, none);
  ASSERT_TRUE(defaults);
  EXPECT_TRUE(defaults->access_log);
  EXPECT_EQ(defaults->metrics_max_topics, 100);

  testing::TempDir dir;
  std::string path = dir.Sub("delayq.yaml");
  std::ofstream(path) << "access_log: false\nmetrics:\n  max_topics: 7\n";
  auto file = LoadConfig(path, {}, none);
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_FALSE(file->access_log);
  EXPECT_EQ(file->metrics_max_topics, 7);

  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "DELAYQ_ACCESS_LOG") return "off";
    return std::nullopt;
  };
  EXPECT_FALSE(LoadConfig(std::nullopt, {}, env)->access_log);
  EXPECT_TRUE(LoadConfig(std::nullopt, {{"access_log", "true"}}, env)->access_log);  // flag wins
  EXPECT_EQ(FlagName("access_log"), "access-log");

  auto bad = LoadConfig(std::nullopt, {{"access_log", "maybe"}}, none);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("--access-log"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("true or false"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace delayq::config
