#include "config/etcd_source.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.h"

namespace delayq::config {
namespace {

TEST(EtcdEncoding, Base64RoundTripsEveryLength) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("/delayq/"), "L2RlbGF5cS8=");
  EXPECT_EQ(Base64Encode("/delayq0"), "L2RlbGF5cTA=");
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    bytes += static_cast<char>(i * 37);
    auto decoded = Base64Decode(Base64Encode(bytes));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, bytes) << "length " << bytes.size();
  }
  EXPECT_FALSE(Base64Decode("a*b="));
  EXPECT_FALSE(Base64Decode("abcde"));
}

TEST(EtcdEncoding, PrefixRangeEndIsThePrefixWithItsLastByteIncremented) {
  EXPECT_EQ(PrefixRangeEnd("/delayq/"), "/delayq0");
  EXPECT_EQ(PrefixRangeEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixRangeEnd(""), std::string(1, '\0'));
}

TEST(CentreValues, ServicesAndTopicsPassTheFilesChecks) {
  Dynamic dynamic;
  ASSERT_TRUE(ApplyServiceValue(dynamic, "billing", "http://10.0.0.1:8080/", "k"));
  ASSERT_TRUE(ApplyServiceValue(dynamic, "mail", R"(["http://a:1", "https://b:2"])", "k"));
  EXPECT_EQ(dynamic.services["billing"], std::vector<std::string>{"http://10.0.0.1:8080/"});
  EXPECT_EQ(dynamic.services["mail"].size(), 2u);
  ASSERT_TRUE(ApplyTopicValue(
      dynamic, "orders",
      R"({"max_attempts": 3, "rate_limit": 2.5, "callback": {"service": "mail", "path": "/x"}})",
      "k"));
  EXPECT_EQ(dynamic.topics["orders"].max_attempts, 3);
  EXPECT_DOUBLE_EQ(dynamic.topics["orders"].rate_limit, 2.5);
  EXPECT_NE(dynamic.topics["orders"].callback_json.find("\"mail\""), std::string::npos);

  auto bad = ApplyServiceValue(dynamic, "ftp", "ftp://x", "etcd key /p/services/ftp");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("etcd key /p/services/ftp"), std::string::npos);
  EXPECT_FALSE(ApplyTopicValue(dynamic, "t", R"({"max_attempts": 0})", "k"));
  EXPECT_FALSE(ApplyTopicValue(dynamic, "t", R"({"unknown": 1})", "k"));
  EXPECT_FALSE(ApplyTopicValue(dynamic, "t", "{not yaml: [", "k"));
  EXPECT_FALSE(dynamic.topics.contains("t")) << "a refused value must not be kept";
}

EnvLookup NoEnv() {
  return [](const std::string&) { return std::optional<std::string>(); };
}

TEST(CentreSettings, EtcdKeysFromFileEnvAndFlags) {
  testing::TempDir dir;
  std::string path = dir.Sub("delayq.yaml");
  std::ofstream(path) << "config:\n  source: etcd\netcd:\n  endpoints: [http://e1:2379, "
                         "http://e2:2379]\n  prefix: /prod/delayq/\n  poll_interval: 5s\n";
  auto config = LoadConfig(path, {}, NoEnv());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->config_source, "etcd");
  EXPECT_EQ(config->etcd_endpoints, (std::vector<std::string>{"http://e1:2379", "http://e2:2379"}));
  EXPECT_EQ(config->etcd_prefix, "/prod/delayq/");
  EXPECT_EQ(config->etcd_poll_interval_ms, 5'000);

  auto from_env = LoadConfig(std::nullopt, {{"etcd.prefix", "/x/"}}, [](const std::string& name) {
    return name == "DELAYQ_CONFIG_SOURCE" ? std::optional<std::string>("etcd") : std::nullopt;
  });
  ASSERT_TRUE(from_env);
  EXPECT_EQ(from_env->config_source, "etcd");
  EXPECT_EQ(from_env->etcd_prefix, "/x/");
  EXPECT_EQ(from_env->etcd_endpoints, std::vector<std::string>{"http://127.0.0.1:2379"});

  EXPECT_FALSE(LoadConfig(std::nullopt, {{"config.source", "consul"}}, NoEnv()));
  EXPECT_FALSE(LoadConfig(
      std::nullopt, {{"config.source", "etcd"}, {"etcd.endpoints", "127.0.0.1:2379"}}, NoEnv()));
}

TEST(CentreSettings, ServicesInTheFileAndEtcdAtOnceAreRefused) {
  testing::TempDir dir;
  std::string path = dir.Sub("delayq.yaml");
  std::ofstream(path) << "config:\n  source: etcd\nservices:\n  billing: http://b:1\n";
  auto config = LoadConfig(path, {}, NoEnv());
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("services and topics come from etcd"), std::string::npos)
      << config.error().message;
}

}  // namespace
}  // namespace delayq::config
