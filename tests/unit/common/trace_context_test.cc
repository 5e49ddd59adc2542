#include "common/trace_context.h"

#include <gtest/gtest.h>

namespace delayq {
namespace {

constexpr char kValid[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContext, AcceptsVersionZeroTraceparents) {
  EXPECT_EQ(TraceparentProblem(kValid), "");
  EXPECT_EQ(TraceparentProblem("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"), "");
}

TEST(TraceContext, RefusesMalformedTraceparentsSayingWhy) {
  // Upper-case hex, wrong lengths, missing dashes, other versions, all-zero ids.
  EXPECT_NE(TraceparentProblem(""), "");
  EXPECT_NE(TraceparentProblem("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"), "");
  EXPECT_NE(TraceparentProblem("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"), "");
  EXPECT_NE(TraceparentProblem(std::string(kValid) + "-"), "");
  EXPECT_NE(TraceparentProblem("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), "");
  EXPECT_NE(TraceparentProblem("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g"), "");
  EXPECT_EQ(TraceparentProblem("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            "its version must be 00 (the only version delayq accepts)");
  EXPECT_EQ(TraceparentProblem("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            "its trace-id must not be all zeros");
  EXPECT_EQ(TraceparentProblem("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
            "its parent-id must not be all zeros");
}

TEST(TraceContext, AcceptsListMemberTracestates) {
  EXPECT_EQ(TracestateProblem(""), "");
  EXPECT_EQ(TracestateProblem("congo=t61rcWkgMzE"), "");
  EXPECT_EQ(TracestateProblem("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE ,,"), "");
  EXPECT_EQ(TracestateProblem("fw529a3039@dt=AAA/b c"), "");
}

TEST(TraceContext, RefusesMalformedOrOversizeTracestates) {
  EXPECT_NE(TracestateProblem("novalue"), "");
  EXPECT_NE(TracestateProblem("=v"), "");
  EXPECT_NE(TracestateProblem("Upper=v"), "");
  EXPECT_NE(TracestateProblem("k=a=b"), "");
  EXPECT_NE(TracestateProblem("k=\x01"), "");
  EXPECT_NE(TracestateProblem("a@b@c=v"), "");
  EXPECT_NE(TracestateProblem("k=" + std::string(kMaxTracestateLength, 'v')), "");
  std::string many;
  for (int i = 0; i <= static_cast<int>(kMaxTracestateMembers); ++i) {
    many += (i ? "," : "") + std::string("k") + std::to_string(i) + "=v";
  }
  EXPECT_EQ(TracestateProblem(many), "it must have at most 32 members");
}

TEST(TraceContext, NamesTheTraceIdForLogLines) {
  EXPECT_EQ(TraceId(kValid), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(TraceLogField(kValid), " trace_id=4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(TraceLogField(""), "");
}

}  // namespace
}  // namespace delayq
