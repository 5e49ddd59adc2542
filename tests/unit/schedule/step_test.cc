#include "schedule/step.h"

#include <gtest/gtest.h>

#include <vector>

#include "schedule/schedule.h"

namespace delayq::schedule {
namespace {

constexpr int64_t kT0 = 1'800'000'000'000;  // the anchor: occurrences at kT0 + k s

Timing EverySecond() { return *Timing::Make(TimingSpec{.every_ms = 1000, .anchor_ms = kT0}); }

Definition WithPolicy(CatchUp policy, int64_t window_ms = kDefaultCatchUpWindowMs) {
  Definition d;
  d.topic = "t";
  d.timing = TimingSpec{.every_ms = 1000, .anchor_ms = kT0};
  d.catch_up = policy;
  d.catch_up_window_ms = window_ms;
  return d;
}

TEST(PlanStep, OnTimeMakesTheNextOccurrenceOnly) {
  for (CatchUp policy : {CatchUp::kSkip, CatchUp::kLatest, CatchUp::kAll}) {
    Step step = PlanStep(EverySecond(), WithPolicy(policy), kT0 + 1000, kT0 + 1003);
    EXPECT_FALSE(step.cancel_pending);
    EXPECT_EQ(step.occurrences, std::vector<int64_t>{kT0 + 2000});
    EXPECT_EQ(step.next_occurrence_ms, kT0 + 2000);
  }
}

// Down from just after kT0 until kT0 + 5.5 s: the pending kT0 + 1 s and the four after it
// (2..5 s) were missed.
TEST(PlanStep, SkipDropsEveryMissedOccurrence) {
  Step step = PlanStep(EverySecond(), WithPolicy(CatchUp::kSkip), kT0 + 1000, kT0 + 5500);
  EXPECT_TRUE(step.cancel_pending);
  EXPECT_EQ(step.occurrences, std::vector<int64_t>{kT0 + 6000});
}

TEST(PlanStep, LatestFiresOnlyTheMostRecentMissed) {
  Step step = PlanStep(EverySecond(), WithPolicy(CatchUp::kLatest), kT0 + 1000, kT0 + 5500);
  EXPECT_TRUE(step.cancel_pending);
  EXPECT_EQ(step.occurrences, (std::vector<int64_t>{kT0 + 5000, kT0 + 6000}));
  EXPECT_EQ(step.next_occurrence_ms, kT0 + 6000);
  // Only the pending one missed: it is the latest, and fires (late).
  Step one = PlanStep(EverySecond(), WithPolicy(CatchUp::kLatest), kT0 + 1000, kT0 + 1900);
  EXPECT_FALSE(one.cancel_pending);
  EXPECT_EQ(one.occurrences, std::vector<int64_t>{kT0 + 2000});
}

TEST(PlanStep, AllFiresEveryMissedWithinTheWindow) {
  Step step = PlanStep(EverySecond(), WithPolicy(CatchUp::kAll), kT0 + 1000, kT0 + 5500);
  EXPECT_FALSE(step.cancel_pending);
  EXPECT_EQ(step.occurrences,
            (std::vector<int64_t>{kT0 + 2000, kT0 + 3000, kT0 + 4000, kT0 + 5000, kT0 + 6000}));
  // A 2.5 s window keeps 3, 4 and 5 s; the pending 1 s is older than it and is dropped.
  Step windowed = PlanStep(EverySecond(), WithPolicy(CatchUp::kAll, 2500), kT0 + 1000, kT0 + 5500);
  EXPECT_TRUE(windowed.cancel_pending);
  EXPECT_EQ(windowed.occurrences,
            (std::vector<int64_t>{kT0 + 3000, kT0 + 4000, kT0 + 5000, kT0 + 6000}));
}

TEST(PlanStep, AllCatchesUpInBoundedSteps) {
  const int64_t now = kT0 + 1000 + 2500 * 1000 + 500;  // 2,500 missed after the pending one
  Step first = PlanStep(EverySecond(), WithPolicy(CatchUp::kAll), kT0 + 1000, now);
  ASSERT_EQ(first.occurrences.size(), kMaxCatchUpPerStep);
  EXPECT_EQ(first.occurrences.front(), kT0 + 2000);
  EXPECT_LE(first.next_occurrence_ms, now);  // the next step goes on from there
  Step second = PlanStep(EverySecond(), WithPolicy(CatchUp::kAll), first.next_occurrence_ms, now);
  EXPECT_EQ(second.occurrences.front(), first.next_occurrence_ms + 1000);
}

TEST(PlanStep, EndedScheduleHasNoNext) {
  Definition d = WithPolicy(CatchUp::kLatest);
  d.timing.end_at_ms = kT0 + 1500;
  Timing timing = *Timing::Make(d.timing);
  Step step = PlanStep(timing, d, kT0 + 1000, kT0 + 1001);
  EXPECT_TRUE(step.occurrences.empty());
  EXPECT_EQ(step.next_occurrence_ms, kNoOccurrence);
}

TEST(ScheduleBody, RoundTripsAndRefusesGarbage) {
  Definition d = WithPolicy(CatchUp::kAll, 5000);
  d.timing = TimingSpec{
      .cron = "0 20 * * *", .time_zone = "Asia/Shanghai", .start_at_ms = 5, .end_at_ms = 9};
  d.jitter_ms = 250;
  d.paused = true;
  d.task = TaskTemplate{"{\"a\":1}", true, 1, "{\"url\":\"http://x/\"}", 7};
  Progress p{3, 1234, 99, 1000, 98, 1, 2};
  auto back = DecodeBody(EncodeBody(d, p));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(back->first.SameAs(d));
  EXPECT_EQ(back->second.generation, 3u);
  EXPECT_EQ(back->second.next_task_id, 99u);
  EXPECT_EQ(back->second.last_occurrence_ms, 1000);
  EXPECT_FALSE(DecodeBody("garbage"));
  EXPECT_FALSE(DecodeBody(""));
}

TEST(OccurrenceKey, IdentifiesScheduleAndOccurrence) {
  std::string key = OccurrenceKey("daily:report-1.x", 4, 1'800'000'000'000);
  EXPECT_EQ(key, "schedule/daily:report-1.x/4/1800000000000");
  auto parsed = ParseOccurrenceKey(key);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->schedule, "daily:report-1.x");
  EXPECT_EQ(parsed->occurrence_ms, 1'800'000'000'000);
  auto trigger = ParseOccurrenceKey(TriggerKey("n", 5));
  ASSERT_TRUE(trigger);
  EXPECT_EQ(trigger->schedule, "n");
  EXPECT_EQ(trigger->occurrence_ms, 5);
  EXPECT_FALSE(ParseOccurrenceKey("user-key"));
  EXPECT_FALSE(ParseOccurrenceKey("schedule/x"));
  EXPECT_FALSE(ParseOccurrenceKey("schedule/x/1/abc"));
}

TEST(JitteredDue, NeverEarlyWithinTheJitterAndStable) {
  int64_t spread_max = 0;
  for (int64_t k = 0; k < 200; ++k) {
    int64_t occurrence = kT0 + k * 1000;
    int64_t due = JitteredDue("n", occurrence, 300);
    EXPECT_GE(due, occurrence);
    EXPECT_LE(due, occurrence + 300);
    EXPECT_EQ(due, JitteredDue("n", occurrence, 300));
    spread_max = std::max(spread_max, due - occurrence);
  }
  EXPECT_GT(spread_max, 0);
  EXPECT_EQ(JitteredDue("n", kT0, 0), kT0);
}

TEST(ScheduleNames, AsTopics) {
  EXPECT_TRUE(IsValidName("a"));
  EXPECT_TRUE(IsValidName(std::string(128, 'x')));
  EXPECT_FALSE(IsValidName(std::string(129, 'x')));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName("a/b"));
  EXPECT_FALSE(IsValidName("a b"));
}

}  // namespace
}  // namespace delayq::schedule
