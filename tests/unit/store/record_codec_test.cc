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

Task Traced() {
  Task task = Sample();
  task.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  task.tracestate = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
  return task;
}

template <class T>
void Put(std::string* out, T value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof value);
}

void PutString(std::string* out, std::string_view s) {
  Put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

// A version-2 record as the builds before trace context wrote it, spelled out field by field
// rather than made by EncodeTask, so that a change to the encoder cannot hide a break.
std::string VersionTwoRecord(const Task& t) {
  std::string out;
  Put<uint8_t>(&out, 2);
  Put<uint64_t>(&out, t.id);
  Put<int64_t>(&out, t.due_at_ms);
  Put<int64_t>(&out, t.created_at_ms);
  Put<int64_t>(&out, t.finished_at_ms);
  Put<uint8_t>(&out, static_cast<uint8_t>(t.kind));
  Put<uint8_t>(&out, static_cast<uint8_t>(t.state));
  Put<uint32_t>(&out, t.attempts);
  Put<uint32_t>(&out, t.max_attempts);
  for (const std::string* s : {&t.topic, &t.payload, &t.last_error, &t.dedup_key, &t.callback}) {
    PutString(&out, *s);
  }
  Put<uint64_t>(&out, t.lease_token);
  Put<int64_t>(&out, t.lease_until_ms);
  Put<uint8_t>(&out, t.payload_is_json ? 1 : 0);
  return out;
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
  EXPECT_EQ(out->traceparent, "");
  EXPECT_EQ(out->tracestate, "");
}

TEST(RecordCodec, RoundTripsTraceContext) {
  Task in = Traced();
  std::string bytes = EncodeTask(in);
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), kRecordVersion);
  auto out = DecodeTask(bytes);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->traceparent, in.traceparent);
  EXPECT_EQ(out->tracestate, in.tracestate);
  EXPECT_EQ(out->payload, in.payload);
  EXPECT_EQ(out->callback, in.callback);
  EXPECT_EQ(out->payload_is_json, in.payload_is_json);
}

TEST(RecordCodec, ATaskWithoutTraceContextIsWrittenAsOlderBuildsWroteIt) {
  // Same bytes as version 2: no growth for untraced tasks, and readable by older builds.
  EXPECT_EQ(EncodeTask(Sample()), VersionTwoRecord(Sample()));
}

TEST(RecordCodec, DecodesVersionTwoRecords) {
  Task in = Sample();
  auto out = DecodeTask(VersionTwoRecord(in));
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->payload, in.payload);
  EXPECT_EQ(out->callback, in.callback);
  EXPECT_EQ(out->lease_token, in.lease_token);
  EXPECT_TRUE(out->payload_is_json);
  EXPECT_EQ(out->traceparent, "");
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
  EXPECT_EQ(static_cast<uint8_t>(EncodeTask(Traced())[0]), kRecordVersion);
  EXPECT_EQ(static_cast<uint8_t>(EncodeTask(Sample())[0]), kUntracedRecordVersion);
}

TEST(RecordCodec, RejectsEveryTruncation) {
  for (const Task& task : {Sample(), Traced()}) {
    std::string bytes = EncodeTask(task);
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_FALSE(DecodeTask(std::string_view(bytes).substr(0, n))) << "length " << n;
    }
  }
}

TEST(RecordCodec, RejectsTrailingBytesUnknownVersionsAndEnums) {
  std::string bytes = EncodeTask(Traced());
  EXPECT_FALSE(DecodeTask(bytes + "x"));
  EXPECT_FALSE(DecodeTask(EncodeTask(Sample()) + "x"));
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
