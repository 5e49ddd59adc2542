#include "engine/lateness_window.h"

#include <gtest/gtest.h>

namespace delayq::engine {
namespace {

constexpr int64_t kT0 = 1'795'000'000'000;  // a wall-clock second boundary, in ms

TEST(LatenessWindow, AggregatesEachSecondAndReportsEmptySeconds) {
  LatenessWindow window;
  window.Record(kT0 + 10, 4);
  window.Record(kT0 + 990, 10);
  window.Record(kT0 + 2'500, 7);
  window.Record(kT0 + 2'600, -3);  // early: counts as 0 late
  auto seconds = window.Snapshot(kT0 + 2'999, 4);
  ASSERT_EQ(seconds.size(), 4u);
  EXPECT_EQ(seconds[0].unix_s, kT0 / 1000 - 1);
  EXPECT_EQ(seconds[0].count, 0u);
  EXPECT_EQ(seconds[1].count, 2u);
  EXPECT_EQ(seconds[1].sum_ms, 14);
  EXPECT_EQ(seconds[1].max_ms, 10);
  EXPECT_EQ(seconds[2].count, 0u);
  EXPECT_EQ(seconds[3].unix_s, kT0 / 1000 + 2);
  EXPECT_EQ(seconds[3].count, 2u);
  EXPECT_EQ(seconds[3].sum_ms, 7);
  EXPECT_EQ(seconds[3].max_ms, 7);
}

TEST(LatenessWindow, ASlotIsReusedAfterTheWindowAndOldSecondsAreNotShown) {
  LatenessWindow window;
  window.Record(kT0, 100);
  int64_t later = kT0 + LatenessWindow::kSeconds * 1000;  // the same slot, one lap later
  // Before the slot is reused, the old second is outside the window: not reported.
  auto before = window.Snapshot(later, LatenessWindow::kSeconds);
  for (const auto& s : before) EXPECT_EQ(s.count, 0u) << s.unix_s;
  window.Record(later, 5);
  auto after = window.Snapshot(later, 1);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].count, 1u);
  EXPECT_EQ(after[0].max_ms, 5) << "the old second's samples leaked into the new one";
  // A delivery stamped with the old second (a clock step back) does not mix into the slot.
  window.Record(kT0, 1'000);
  EXPECT_EQ(window.Snapshot(later, 1)[0].max_ms, 5);
}

TEST(LatenessWindow, SnapshotLengthIsClamped) {
  LatenessWindow window;
  EXPECT_EQ(window.Snapshot(kT0, 0).size(), 1u);
  EXPECT_EQ(window.Snapshot(kT0, 10'000).size(), static_cast<size_t>(LatenessWindow::kSeconds));
}

}  // namespace
}  // namespace delayq::engine
