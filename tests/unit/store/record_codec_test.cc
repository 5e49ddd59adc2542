#include "store/record_codec.h"

#include <gtest/gtest.h>

namespace delayq::store {
namespace {

Task Sample() {
  Task task;
  task.id = 384236777159786496;
  task.topic = "order_timeout";
  task.due_at_ms = 1'565'700'615'000;
  task.created_at_ms = 1'565'700'000'123;
  task.payload = std::string("{\"uid\":\"111111\"}\0binary\xff", 24);
  task.kind = DeliveryKind::kCallback;
  task.state = TaskState::kDead;
  task.attempts = 10;
  task.max_attempts = 10;
  task.finished_at_ms = 1'565'700'700'000;
  task.last_error = "HTTP 500";
  task.dedup_key = "order-1";
  task.callback = R"({"url":"http://127.0.0.1:9/x"})";
  task.lease_token = 0xdeadbeefcafef00d;
  task.lease_until_ms = 1'565'700'800'000;
  task.payload_is_json = true;
  return task;
}

TEST(RecordCodec, RoundTripsEveryField) {
  Task in = Sample();
  auto out = DecodeTask(EncodeTask(in));
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->id, in.id);
  EXPECT_EQ(out->topic, in.topic);
  EXPECT_EQ(out->due_at_ms, in.due_at_ms);
  EXPECT_EQ(out->created_at_ms, in.created_at_ms);
  EXPECT_EQ(out->payload, in.payload);
  EXPECT_EQ(out->kind, in.kind);
  EXPECT_EQ(out->state, in.state);
  EXPECT_EQ(out->attempts, in.attempts);
  EXPECT_EQ(out->max_attempts, in.max_attempts);
  EXPECT_EQ(out->finished_at_ms, in.finished_at_ms);
  EXPECT_EQ(out->last_error, in.last_error);
  EXPECT_EQ(out->dedup_key, in.dedup_key);
  EXPECT_EQ(out->callback, in.callback);
  EXPECT_EQ(out->lease_token, in.lease_token);
  EXPECT_EQ(out->lease_until_ms, in.lease_until_ms);
  EXPECT_EQ(out->payload_is_json, in.payload_is_json);
}

TEST(RecordCodec, DecodesVersionOneRecords) {
  // A version-1 record is the version-2 layout without the last 17 bytes.
  Task in = Sample();
  std::string bytes = EncodeTask(in);
  bytes.resize(bytes.size() - 17);
  bytes[0] = 1;
  auto out = DecodeTask(bytes);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->payload, in.payload);
  EXPECT_EQ(out->lease_token, 0u);
  EXPECT_FALSE(out->payload_is_json);
}

TEST(RecordCodec, StartsWithItsVersion) {
  EXPECT_EQ(static_cast<uint8_t>(EncodeTask(Sample())[0]), kRecordVersion);
}

TEST(RecordCodec, RejectsEveryTruncation) {
  std::string bytes = EncodeTask(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeTask(std::string_view(bytes).substr(0, n))) << "length " << n;
  }
}

TEST(RecordCodec, RejectsTrailingBytesUnknownVersionsAndEnums) {
  std::string bytes = EncodeTask(Sample());
  EXPECT_FALSE(DecodeTask(bytes + "x"));
  std::string future = bytes;
  future[0] = static_cast<char>(kRecordVersion + 1);
  EXPECT_FALSE(DecodeTask(future));
  std::string bad_kind = bytes;
  bad_kind[1 + 8 * 4] = 9;  // kind follows version and four 8-byte fields
  EXPECT_FALSE(DecodeTask(bad_kind));
  std::string bad_state = bytes;
  bad_state[1 + 8 * 4 + 1] = 42;
  EXPECT_FALSE(DecodeTask(bad_state));
}

TEST(RecordCodec, RejectsALengthPointingPastTheEnd) {
  std::string bytes = EncodeTask(Sample());
  size_t topic_length_at = 1 + 8 * 4 + 2 + 4 + 4;
  bytes[topic_length_at + 3] = 0x7f;  // topic length ~2 GiB
  EXPECT_FALSE(DecodeTask(bytes));
}

}  // namespace
}  // namespace delayq::store
