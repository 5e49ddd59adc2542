#include "queue/ids.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <unordered_set>
#include <vector>

namespace delayq {
namespace {

constexpr int64_t kNow = 1'765'000'000'000;  // 2025-12-06

TEST(IdGenerator, IdsCarryTimeAndNode) {
  ManualClock clock(kNow);
  IdGenerator ids(37, clock);
  TaskId id = ids.Next();
  EXPECT_EQ(IdGenerator::TimestampMsOf(id), kNow);
  EXPECT_EQ(IdGenerator::NodeOf(id), 37u);
  EXPECT_LT(id, TaskId{1} << 63);  // fits a signed 64-bit JSON number
}

TEST(IdGenerator, StrictlyIncreasingWithinAMillisecondAndAcrossOverflow) {
  ManualClock clock(kNow);
  IdGenerator ids(1, clock);
  TaskId last = 0;
  // More than 4,096 ids in one millisecond: the generator borrows the next millisecond.
  for (int i = 0; i < 10'000; ++i) {
    TaskId id = ids.Next();
    ASSERT_GT(id, last);
    last = id;
  }
}

TEST(IdGenerator, NeverGoesBackWhenTheClockDoes) {
  ManualClock clock(kNow);
  IdGenerator ids(1, clock);
  TaskId before = ids.Next();
  clock.Set(kNow - 60'000);
  TaskId after = ids.Next();
  EXPECT_GT(after, before);
}

TEST(IdGenerator, ObserveRaisesTheFloor) {
  ManualClock clock(kNow);
  IdGenerator ids(1, clock);
  ManualClock future(kNow + 3'600'000);
  IdGenerator earlier_run(1, future);
  TaskId stored = earlier_run.Next();  // minted before a restart by a clock that was ahead
  ids.Observe(stored);
  EXPECT_GT(ids.Next(), stored);
}

TEST(IdGenerator, UniqueUnderThreads) {
  IdGenerator ids(3, SystemClock::Instance());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50'000;
  std::vector<std::vector<TaskId>> minted(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      minted[t].reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) minted[t].push_back(ids.Next());
    });
  }
  for (auto& thread : threads) thread.join();
  std::unordered_set<TaskId> all;
  for (const auto& list : minted) {
    EXPECT_TRUE(std::is_sorted(list.begin(), list.end()));  // each thread sees them grow
    all.insert(list.begin(), list.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(IdGenerator, DifferentNodesNeverCollide) {
  ManualClock clock(kNow);
  IdGenerator a(1, clock);
  IdGenerator b(2, clock);
  std::unordered_set<TaskId> all;
  for (int i = 0; i < 5'000; ++i) {
    ASSERT_TRUE(all.insert(a.Next()).second);
    ASSERT_TRUE(all.insert(b.Next()).second);
  }
}

}  // namespace
}  // namespace delayq
