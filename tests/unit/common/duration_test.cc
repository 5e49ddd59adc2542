#include "common/duration.h"

#include <gtest/gtest.h>

namespace delayq {
namespace {

TEST(ParseDurationMs, AcceptsEveryUnit) {
  EXPECT_EQ(*ParseDurationMs("250ms"), 250);
  EXPECT_EQ(*ParseDurationMs("30s"), 30'000);
  EXPECT_EQ(*ParseDurationMs("10m"), 600'000);
  EXPECT_EQ(*ParseDurationMs("72h"), 259'200'000);
  EXPECT_EQ(*ParseDurationMs("3d"), 259'200'000);
  EXPECT_EQ(*ParseDurationMs("1500"), 1500);
}

TEST(ParseDurationMs, RejectsGarbageWithAMessage) {
  auto bad = ParseDurationMs("ten seconds");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("ten seconds"), std::string::npos);
  EXPECT_FALSE(ParseDurationMs("10 s"));
  EXPECT_FALSE(ParseDurationMs("10w"));
  EXPECT_FALSE(ParseDurationMs("-5s"));
  EXPECT_FALSE(ParseDurationMs("99999999999999999d"));
}

TEST(ParseSizeBytes, AcceptsBinaryUnits) {
  EXPECT_EQ(*ParseSizeBytes("512"), 512u);
  EXPECT_EQ(*ParseSizeBytes("64KiB"), 65'536u);
  EXPECT_EQ(*ParseSizeBytes("1MiB"), 1'048'576u);
  EXPECT_EQ(*ParseSizeBytes("1MB"), 1'048'576u);
  EXPECT_FALSE(ParseSizeBytes("1XB"));
}

}  // namespace
}  // namespace delayq
