#include "engine/rate_window.h"

#include <gtest/gtest.h>

#include "engine/metrics.h"

namespace delayq::engine {
namespace {

constexpr int64_t kT0 = 1'795'000'000'000;  // a wall-clock second boundary, in ms

TEST(RateWindow, CountsEachSeriesPerSecondAndReportsEmptySeconds) {
  RateWindow window;
  window.Record(kT0 + 10, RateWindow::kAdded, 1000);
  window.Record(kT0 + 990, RateWindow::kAdded);
  window.Record(kT0 + 500, RateWindow::kFired, 3);
  window.Record(kT0 + 2'500, RateWindow::kFailed, 2);
  auto seconds = window.Snapshot(kT0 + 2'999, 4);
  ASSERT_EQ(seconds.size(), 4u);
  EXPECT_EQ(seconds[0].unix_s, kT0 / 1000 - 1);
  EXPECT_EQ(seconds[0].counts, (std::array<uint64_t, 3>{0, 0, 0}));
  EXPECT_EQ(seconds[1].counts, (std::array<uint64_t, 3>{1001, 3, 0}));
  EXPECT_EQ(seconds[2].counts, (std::array<uint64_t, 3>{0, 0, 0}));
  EXPECT_EQ(seconds[3].unix_s, kT0 / 1000 + 2);
  EXPECT_EQ(seconds[3].counts, (std::array<uint64_t, 3>{0, 0, 2}));
}

TEST(RateWindow, ASlotIsClearedWhenReusedAndAStepBackDoesNotMixSeconds) {
  RateWindow window;
  window.Record(kT0, RateWindow::kAdded, 7);
  int64_t later = kT0 + RateWindow::kSeconds * 1000;  // the same slot, one lap later
  for (const auto& s : window.Snapshot(later, RateWindow::kSeconds)) {
    EXPECT_EQ(s.counts[RateWindow::kAdded], 0u) << s.unix_s;
  }
  window.Record(later, RateWindow::kAdded);
  EXPECT_EQ(window.Snapshot(later, 1)[0].counts[RateWindow::kAdded], 1u);
  window.Record(kT0, RateWindow::kAdded, 100);  // the old second: a clock stepped back
  EXPECT_EQ(window.Snapshot(later, 1)[0].counts[RateWindow::kAdded], 1u);
  EXPECT_EQ(window.Snapshot(later, 0).size(), 1u);
  EXPECT_EQ(window.Snapshot(later, 10'000).size(), static_cast<size_t>(RateWindow::kSeconds));
}

// The per-topic counters feed the window once it is tracked: added, fired and failed only.
TEST(RateWindow, TopicMetricsFeedItsThreeSeries) {
  ManualClock clock(kT0 + 1'200);
  RateWindow rates;
  TopicMetrics topics(10);
  topics.Count("a", TopicEvent::kAdded, 5);  // before tracking: not in the window
  topics.TrackRates(&rates, &clock);
  topics.Count("a", TopicEvent::kAdded, 2);
  topics.Count("b", TopicEvent::kFired);
  topics.Count("b", TopicEvent::kFailed);
  topics.Count("b", TopicEvent::kDelivered);
  topics.Count("b", TopicEvent::kDead);
  auto now = rates.Snapshot(clock.NowMs(), 1);
  EXPECT_EQ(now[0].counts, (std::array<uint64_t, 3>{2, 1, 1}));
}

}  // namespace
}  // namespace delayq::engine
