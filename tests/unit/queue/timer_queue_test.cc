#include "queue/timer_queue.h"

#include <gtest/gtest.h>

#include <random>

namespace delayq {
namespace {

DueRef Ref(int64_t due, TaskId id) { return DueRef{DueKey{due, id}, 0}; }

TEST(TimerQueue, EmptyHasNoDeadline) {
  TimerQueue timers;
  EXPECT_EQ(timers.NextDeadlineMs(), kNoDeadline);
  std::vector<DueRef> out;
  EXPECT_EQ(timers.PopDue(1'000'000, 100, &out), 0u);
}

TEST(TimerQueue, FiresInDueOrderThenIdOrder) {
  TimerQueue timers;
  timers.Add(Ref(300, 1));
  timers.Add(Ref(100, 9));
  timers.Add(Ref(200, 2));
  timers.Add(Ref(100, 3));
  EXPECT_EQ(timers.NextDeadlineMs(), 100);
  std::vector<DueRef> out;
  EXPECT_EQ(timers.PopDue(99, 100, &out), 0u);  // nothing before its time
  EXPECT_EQ(timers.PopDue(200, 100, &out), 3u);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].key, (DueKey{100, 3}));
  EXPECT_EQ(out[1].key, (DueKey{100, 9}));
  EXPECT_EQ(out[2].key, (DueKey{200, 2}));
  EXPECT_EQ(timers.NextDeadlineMs(), 300);
}

TEST(TimerQueue, RespectsThePerCallLimit) {
  TimerQueue timers;
  for (TaskId id = 1; id <= 10; ++id) timers.Add(Ref(5, id));
  std::vector<DueRef> out;
  EXPECT_EQ(timers.PopDue(5, 4, &out), 4u);
  EXPECT_EQ(timers.size(), 6u);
  EXPECT_EQ(timers.PopDue(5, 100, &out), 6u);
  EXPECT_TRUE(timers.empty());
}

TEST(TimerQueue, ManyRandomTimersComeOutSorted) {
  TimerQueue timers;
  std::mt19937_64 rng(42);
  for (TaskId id = 1; id <= 100'000; ++id) timers.Add(Ref(rng() % 10'000, id));
  std::vector<DueRef> out;
  for (int64_t now = 0; now < 10'000; now += 7) timers.PopDue(now, 1'000'000, &out);
  timers.PopDue(10'000, 1'000'000, &out);
  ASSERT_EQ(out.size(), 100'000u);
  for (size_t i = 1; i < out.size(); ++i) ASSERT_LT(out[i - 1].key, out[i].key);
}

}  // namespace
}  // namespace delayq
