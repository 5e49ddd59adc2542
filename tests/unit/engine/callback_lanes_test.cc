// The callback flow control without threads or a store: the test plays the engine (it
// runs the claims the lanes ask for and passes the time).

#include "engine/callback_lanes.h"

#include <gtest/gtest.h>

namespace delayq::engine {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

TEST(CallbackLanes, APumpQueuesOneClaimAndRepumpsAfterIt) {
  CallbackLanes lanes(10);
  TopicLimits limits{2, 0};
  EXPECT_TRUE(lanes.Pump("a", limits, kNow).claim);
  EXPECT_FALSE(lanes.Pump("a", limits, kNow).claim) << "one claim job per lane at a time";
  EXPECT_EQ(lanes.Busy(), 1u);
  size_t slots = lanes.BeginClaim("a", limits, kNow, false);
  EXPECT_EQ(slots, 2u);
  auto end = lanes.EndClaim("a", limits, kNow, slots, 1, kNow + 100, false);
  EXPECT_TRUE(end.again) << "pumped while its claim was queued";
  EXPECT_EQ(end.blocked_until_ms, 0);
  EXPECT_EQ(lanes.Busy(), 1u) << "one call in flight";
}

TEST(CallbackLanes, AFullLaneWaitsForACompletion) {
  CallbackLanes lanes(10);
  TopicLimits limits{1, 0};
  ASSERT_TRUE(lanes.Pump("a", limits, kNow).claim);
  size_t slots = lanes.BeginClaim("a", limits, kNow, false);
  ASSERT_EQ(slots, 1u);
  auto end = lanes.EndClaim("a", limits, kNow, slots, 1, kNow + 100, false);
  EXPECT_TRUE(end.again) << "a full claim may have left more due";
  EXPECT_FALSE(lanes.Pump("a", limits, kNow).claim) << "a limit of 1 holds the rest back";
  EXPECT_TRUE(lanes.Release("a", limits, kNow, true, false).empty());
  EXPECT_TRUE(lanes.Pump("a", limits, kNow).claim);
}

TEST(CallbackLanes, TheGlobalCapQueuesLanesOldestFirst) {
  CallbackLanes lanes(1);
  TopicLimits limits{5, 0};
  ASSERT_TRUE(lanes.Pump("a", limits, kNow).claim);
  EXPECT_FALSE(lanes.Pump("b", limits, kNow).claim);
  EXPECT_FALSE(lanes.Pump("c", limits, kNow).claim);
  size_t slots = lanes.BeginClaim("a", limits, kNow, false);
  ASSERT_EQ(slots, 1u);
  auto end = lanes.EndClaim("a", limits, kNow, slots, 1, kNow + 100, false);
  EXPECT_TRUE(end.start.empty()) << "the one global slot is in flight";
  EXPECT_EQ(lanes.Release("a", limits, kNow, false, false), std::vector<std::string>{"b"});
  EXPECT_TRUE(lanes.Release("b", limits, kNow, false, true).empty())
      << "nothing starts while stopping";
}

TEST(CallbackLanes, ARateLimitBlocksUntilTheNextToken) {
  CallbackLanes lanes(10);
  TopicLimits limits{10, 2};  // two per second, bucket of two
  ASSERT_TRUE(lanes.Pump("a", limits, kNow).claim);
  size_t slots = lanes.BeginClaim("a", limits, kNow, false);
  ASSERT_EQ(slots, 2u);
  (void)lanes.EndClaim("a", limits, kNow, slots, 2, kNow + 100, false);
  auto pumped = lanes.Pump("a", limits, kNow);
  EXPECT_FALSE(pumped.claim);
  EXPECT_EQ(pumped.blocked_until_ms, kNow + 500);
  EXPECT_EQ(lanes.NextUnblockMs(), kNow + 500);
  EXPECT_TRUE(lanes.Unblock(kNow + 499).empty());
  EXPECT_EQ(lanes.Unblock(kNow + 500), std::vector<std::string>{"a"});
  EXPECT_FALSE(lanes.NextUnblockMs());
  EXPECT_TRUE(lanes.Pump("a", limits, kNow + 500).claim);
}

TEST(CallbackLanes, AFailedClaimBlocksTheLaneForARetry) {
  CallbackLanes lanes(10);
  TopicLimits limits{3, 0};
  ASSERT_TRUE(lanes.Pump("a", limits, kNow).claim);
  size_t slots = lanes.BeginClaim("a", limits, kNow, false);
  auto end = lanes.EndClaim("a", limits, kNow, slots, std::nullopt, kNow + 100, false);
  EXPECT_FALSE(end.again);
  EXPECT_EQ(end.blocked_until_ms, kNow + 100);
  EXPECT_EQ(lanes.Busy(), 0u) << "the reservation is given back";
  EXPECT_FALSE(lanes.Pump("a", limits, kNow).claim) << "blocked lanes wait for their time";
  EXPECT_EQ(lanes.Unblock(kNow + 100), std::vector<std::string>{"a"});
}

TEST(CallbackLanes, AClaimNotQueuedGivesItsSlotBack) {
  CallbackLanes lanes(1);
  TopicLimits limits{3, 0};
  ASSERT_TRUE(lanes.Pump("a", limits, kNow).claim);
  lanes.ClaimNotQueued("a");
  EXPECT_EQ(lanes.Busy(), 0u);
  EXPECT_TRUE(lanes.BlockForRetry("a", kNow + 100));
  EXPECT_FALSE(lanes.BlockForRetry("a", kNow + 200)) << "already blocked";
  EXPECT_EQ(lanes.NextUnblockMs(), kNow + 100);
}

}  // namespace
}  // namespace delayq::engine
