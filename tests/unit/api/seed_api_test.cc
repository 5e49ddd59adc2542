#include "api/seed_api.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/errors.h"
#include "delivery/callback_spec.h"
#include "delivery/registry.h"

namespace delayq::api {
namespace {

namespace json = boost::json;

constexpr int64_t kNow = 1'800'000'000'000;

TEST(DecodeSeedAdd, TheSpecExample) {
  auto add = DecodeSeedAdd(
      R"({"topic": "order_timeout", "timing_moment": 1565700615, "content": "{\"uid\":\"111111\"}"})",
      ApiConfig{}, kNow);
  ASSERT_TRUE(add) << add.error().message;
  EXPECT_EQ(add->topic, "order_timeout");
  EXPECT_EQ(add->due_at_ms, 1'565'700'615'000);
  EXPECT_EQ(add->content, R"({"uid":"111111"})");
  EXPECT_TRUE(add->callback_json.empty());
}

class SeedCallbacks : public ::testing::Test {
 protected:
  Result<SeedAdd> Add(const std::string& content_json) {
    ApiConfig config;
    config.registry = &registry_;
    json::object body;
    body["topic"] = "p";
    body["timing_moment"] = 1;
    body["content"] = content_json;
    return DecodeSeedAdd(json::serialize(body), config, kNow);
  }
  delivery::Registry registry_{
      {{"other.server", {"http://127.0.0.1:9"}}}, {"127.0.0.1", "*.corp"}, 10'000};
};

TEST_F(SeedCallbacks, SnAndPathMakeACallbackTask) {
  auto add =
      Add(R"({"uid":"111111","sn":"other.server","url":"/xxxx/callback","msg_type":"gift"})");
  ASSERT_TRUE(add) << add.error().message;
  auto spec = delivery::DecodeCallbackSpec(add->callback_json);
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->service, "other.server");
  EXPECT_EQ(spec->path, "/xxxx/callback");
}

TEST_F(SeedCallbacks, AbsoluteUrlIsCalledDirectly) {
  auto add = Add(R"({"url":"http://api.corp:8080/hook"})");
  ASSERT_TRUE(add) << add.error().message;
  EXPECT_EQ(delivery::DecodeCallbackSpec(add->callback_json)->url, "http://api.corp:8080/hook");
}

TEST_F(SeedCallbacks, BadTargetsAreRefusedWithTheFieldNamed) {
  struct Case {
    const char* content;
    const char* mentions;
  };
  for (const Case& c : {Case{R"({"sn":"nobody","url":"/x"})", "content.sn"},
                        Case{R"({"url":"/relative/without/sn"})", "content.url"},
                        Case{R"({"url":"ftp://127.0.0.1/x"})", "scheme"},
                        Case{R"({"url":"http://169.254.169.254/latest"})", "allow_hosts"},
                        Case{R"({"url":7})", "content.url"}}) {
    auto add = Add(c.content);
    ASSERT_FALSE(add) << c.content;
    EXPECT_EQ(add.error().code, Errc::kInvalidArgument);
    EXPECT_NE(add.error().message.find(c.mentions), std::string::npos) << add.error().message;
  }
}

TEST_F(SeedCallbacks, ContentWithoutUrlStaysAPullTask) {
  auto add = Add(R"({"sn":"other.server","uid":"1"})");
  ASSERT_TRUE(add);
  EXPECT_TRUE(add->callback_json.empty());
}

struct BadAdd {
  const char* body;
  Errc code;
  const char* mentions;
};

class DecodeSeedAddRejects : public ::testing::TestWithParam<BadAdd> {};

TEST_P(DecodeSeedAddRejects, WithTheFieldNamed) {
  ApiConfig api_config;
  api_config.max_payload_bytes = 16;
  auto add = DecodeSeedAdd(GetParam().body, api_config, kNow);
  ASSERT_FALSE(add);
  EXPECT_EQ(add.error().code, GetParam().code);
  EXPECT_NE(add.error().message.find(GetParam().mentions), std::string::npos)
      << add.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DecodeSeedAddRejects,
    ::testing::Values(
        BadAdd{"", Errc::kInvalidArgument, "empty"},
        BadAdd{"{", Errc::kInvalidArgument, "not valid JSON"},
        BadAdd{"[1]", Errc::kInvalidArgument, "JSON object"},
        BadAdd{R"({"timing_moment":1,"content":"x"})", Errc::kInvalidArgument, "topic"},
        BadAdd{R"({"topic":7,"timing_moment":1,"content":"x"})", Errc::kInvalidArgument, "topic"},
        BadAdd{R"({"topic":"a b","timing_moment":1,"content":"x"})", Errc::kInvalidArgument,
               "topic"},
        BadAdd{R"({"topic":"t","content":"x"})", Errc::kInvalidArgument, "timing_moment"},
        BadAdd{R"({"topic":"t","timing_moment":"1","content":"x"})", Errc::kInvalidArgument,
               "timing_moment"},
        BadAdd{R"({"topic":"t","timing_moment":-1,"content":"x"})", Errc::kInvalidArgument,
               "timing_moment"},
        BadAdd{R"({"topic":"t","timing_moment":1.5,"content":"x"})", Errc::kInvalidArgument,
               "timing_moment"},
        BadAdd{R"({"topic":"t","timing_moment":99999999999999999999,"content":"x"})",
               Errc::kInvalidArgument, "timing_moment"},
        BadAdd{R"({"topic":"t","timing_moment":4102444800,"content":"x"})", Errc::kInvalidArgument,
               "timing_moment"},
        BadAdd{R"({"topic":"t","timing_moment":1})", Errc::kInvalidArgument, "content"},
        BadAdd{R"({"topic":"t","timing_moment":1,"content":{"a":1}})", Errc::kInvalidArgument,
               "content"},
        BadAdd{R"({"topic":"t","timing_moment":1,"content":"01234567890123456789"})",
               Errc::kTooLarge, "content"}),
    [](const ::testing::TestParamInfo<BadAdd>& info) { return std::to_string(info.index); });

TEST(DecodeSeedPull, TopicAloneOrWithId) {
  auto plain = DecodeSeedPull(R"({"topic":"order_timeout"})");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->task_id);
  auto by_id = DecodeSeedPull(R"({"topic":"order_timeout","task_id":1324568})");
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->task_id, 1324568u);
  auto as_string = DecodeSeedPull(R"({"topic":"t","task_id":"384236777159786496"})");
  ASSERT_TRUE(as_string);
  EXPECT_EQ(as_string->task_id, 384236777159786496u);
  EXPECT_FALSE(DecodeSeedPull(R"({"topic":"t","task_id":0})")->task_id);  // unset int field
}

TEST(DecodeSeedPull, RejectsBadIdsAndTopics) {
  EXPECT_FALSE(DecodeSeedPull(R"({"topic":"t","task_id":-4})"));
  EXPECT_FALSE(DecodeSeedPull(R"({"topic":"t","task_id":"abc"})"));
  EXPECT_FALSE(DecodeSeedPull(R"({"topic":"t","task_id":[1]})"));
  EXPECT_FALSE(DecodeSeedPull(R"({"task_id":1})"));
  EXPECT_FALSE(DecodeSeedPull(R"({"topic":""})"));
}

TEST(SeedEncoding, NumbersAndTheSuccessMessageAreExact) {
  auto add = boost::json::parse(EncodeSeedAddOk(384236777159786496));
  EXPECT_EQ(add.at("dm_error").as_int64(), 0);
  EXPECT_EQ(add.at("error_msg").as_string(), "操作成功");
  EXPECT_EQ(add.at("task_id").to_number<uint64_t>(), 384236777159786496u);
  auto empty = boost::json::parse(EncodeSeedPullOk(0, ""));
  EXPECT_EQ(empty.at("task_id").to_number<int64_t>(), 0);
  EXPECT_EQ(empty.at("content").as_string(), "");
  auto escaped = boost::json::parse(EncodeSeedPullOk(5, "{\"a\":\"\\n\"}"));
  EXPECT_EQ(escaped.at("content").as_string(), "{\"a\":\"\\n\"}");
}

TEST(ErrorMapping, EachCategoryHasItsStatusAndDmError) {
  EXPECT_EQ(MapError(Errc::kInvalidArgument).http_status, 400);
  EXPECT_EQ(MapError(Errc::kInvalidArgument).dm_error, 1);
  EXPECT_EQ(MapError(Errc::kNotFound).dm_error, 2);
  EXPECT_EQ(MapError(Errc::kNotDue).dm_error, 3);
  EXPECT_EQ(MapError(Errc::kUnauthorized).dm_error, 4);
  EXPECT_EQ(MapError(Errc::kUnavailable).http_status, 503);
  EXPECT_EQ(MapError(Errc::kUnavailable).dm_error, 5);
  EXPECT_EQ(MapError(Errc::kTooLarge).http_status, 413);
}

}  // namespace
}  // namespace delayq::api
