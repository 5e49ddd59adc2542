#include "schedule/timing.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace delayq::schedule {
namespace {

// Unix ms of a UTC civil time.
int64_t Utc(int y, unsigned mo, unsigned d, unsigned h = 0, unsigned mi = 0, unsigned s = 0) {
  using namespace std::chrono;
  sys_days date{year(y) / month(mo) / day(d)};
  return duration_cast<milliseconds>(
             (date + hours(h) + minutes(mi) + seconds(s)).time_since_epoch())
      .count();
}

Timing Cron(const std::string& cron, const std::string& zone = "UTC") {
  auto timing = Timing::Make(TimingSpec{.cron = cron, .time_zone = zone});
  EXPECT_TRUE(timing.has_value()) << (timing ? "" : timing.error().message);
  return *timing;
}

std::vector<int64_t> NextN(const Timing& t, int64_t after, size_t n) { return t.Next(after, n); }

// --- Daylight saving -------------------------------------------------------------------------

TEST(Timing, NewYorkSpringForwardFiresOnceAfterTheGap) {
  // 2026-03-08 02:00 EST jumps to 03:00 EDT (07:00Z): 02:30 does not exist that day.
  Timing t = Cron("30 2 * * *", "America/New_York");
  EXPECT_EQ(
      NextN(t, Utc(2026, 3, 7, 12), 3),
      (std::vector<int64_t>{Utc(2026, 3, 8, 7), Utc(2026, 3, 9, 6, 30), Utc(2026, 3, 10, 6, 30)}));
  // Every quarter of the missing hour is one fire at the end of the gap.
  Timing quarters = Cron("*/15 2 * * *", "America/New_York");
  EXPECT_EQ(NextN(quarters, Utc(2026, 3, 8, 6), 2),
            (std::vector<int64_t>{Utc(2026, 3, 8, 7), Utc(2026, 3, 9, 6)}));
}

TEST(Timing, NewYorkFallBackFiresTheFirstOfTheTwo) {
  // 2026-11-01 02:00 EDT goes back to 01:00 EST (06:00Z): 01:30 happens at 05:30Z and 06:30Z.
  Timing t = Cron("30 1 * * *", "America/New_York");
  EXPECT_EQ(NextN(t, Utc(2026, 10, 31, 12), 2),
            (std::vector<int64_t>{Utc(2026, 11, 1, 5, 30), Utc(2026, 11, 2, 6, 30)}));
  // Asked from inside the repeated hour, the second 01:30 is not a fire.
  EXPECT_EQ(t.NextAfter(Utc(2026, 11, 1, 6, 10)), Utc(2026, 11, 2, 6, 30));
  Timing hourly = Cron("0 * * * *", "America/New_York");
  EXPECT_EQ(NextN(hourly, Utc(2026, 11, 1, 3, 30), 3),
            (std::vector<int64_t>{Utc(2026, 11, 1, 4), Utc(2026, 11, 1, 5), Utc(2026, 11, 1, 7)}));
}

TEST(Timing, LondonBothChanges) {
  // 2026-03-29 01:00 GMT jumps to 02:00 BST (01:00Z); 2026-10-25 02:00 BST back to 01:00 GMT.
  Timing t = Cron("30 1 * * *", "Europe/London");
  EXPECT_EQ(t.NextAfter(Utc(2026, 3, 28, 12)), Utc(2026, 3, 29, 1));
  EXPECT_EQ(t.NextAfter(Utc(2026, 3, 29, 1)), Utc(2026, 3, 30, 0, 30));
  EXPECT_EQ(NextN(t, Utc(2026, 10, 24, 12), 2),
            (std::vector<int64_t>{Utc(2026, 10, 25, 0, 30), Utc(2026, 10, 26, 1, 30)}));
}

TEST(Timing, LordHoweThirtyMinuteShift) {
  // 2026-10-04 02:00 +10:30 jumps to 02:30 +11 (15:30Z on the 3rd).
  Timing spring = Cron("15 2 * * *", "Australia/Lord_Howe");
  EXPECT_EQ(NextN(spring, Utc(2026, 10, 3, 0), 2),
            (std::vector<int64_t>{Utc(2026, 10, 3, 15, 30), Utc(2026, 10, 4, 15, 15)}));
  // 2026-04-05 02:00 +11 goes back to 01:30 +10:30 (15:00Z on the 4th): 01:45 twice.
  Timing autumn = Cron("45 1 * * *", "Australia/Lord_Howe");
  EXPECT_EQ(NextN(autumn, Utc(2026, 4, 4, 0), 2),
            (std::vector<int64_t>{Utc(2026, 4, 4, 14, 45), Utc(2026, 4, 5, 15, 15)}));
  // 02:00 exists on both days (outside the 30-minute windows).
  Timing two = Cron("0 2 * * *", "Australia/Lord_Howe");
  EXPECT_EQ(two.NextAfter(Utc(2026, 4, 4, 0)), Utc(2026, 4, 4, 15, 30));
}

TEST(Timing, ShanghaiHasNoDaylightSaving) {
  // "Every day at 20:00 Beijing time" is 12:00Z all year.
  Timing t = Cron("0 20 * * *", "Asia/Shanghai");
  EXPECT_EQ(t.NextAfter(Utc(2026, 3, 8, 0)), Utc(2026, 3, 8, 12));
  EXPECT_EQ(t.NextAfter(Utc(2026, 11, 1, 12)), Utc(2026, 11, 2, 12));
  EXPECT_EQ(t.NextAfter(Utc(2026, 6, 30, 11, 59, 59)), Utc(2026, 6, 30, 12));
}

// --- Calendar ------------------------------------------------------------------------------

TEST(Timing, TwentyNinthOfFebruaryWaitsForALeapYear) {
  Timing t = Cron("0 0 29 2 *");
  EXPECT_EQ(NextN(t, Utc(2026, 3, 1), 2),
            (std::vector<int64_t>{Utc(2028, 2, 29), Utc(2032, 2, 29)}));
}

TEST(Timing, ThirtyFirstSkipsShortMonths) {
  Timing t = Cron("0 0 31 * *");
  EXPECT_EQ(NextN(t, Utc(2026, 1, 31), 4),
            (std::vector<int64_t>{Utc(2026, 3, 31), Utc(2026, 5, 31), Utc(2026, 7, 31),
                                  Utc(2026, 8, 31)}));
}

TEST(Timing, StepsRestartEachHour) {
  Timing t = Cron("*/7 * * * *");
  EXPECT_EQ(
      NextN(t, Utc(2026, 5, 1, 10, 50), 3),
      (std::vector<int64_t>{Utc(2026, 5, 1, 10, 56), Utc(2026, 5, 1, 11), Utc(2026, 5, 1, 11, 7)}));
}

TEST(Timing, DayOfMonthOrDayOfWeekWhenBothRestricted) {
  // April 2026: Fridays are the 3rd, 10th, 17th; the 13th is a Monday.
  EXPECT_EQ(NextN(Cron("0 0 13 * 5"), Utc(2026, 4, 10), 2),
            (std::vector<int64_t>{Utc(2026, 4, 13), Utc(2026, 4, 17)}));
  EXPECT_EQ(Cron("0 0 13 * *").NextAfter(Utc(2026, 4, 10)), Utc(2026, 4, 13));
  EXPECT_EQ(Cron("0 0 * * 5").NextAfter(Utc(2026, 4, 10)), Utc(2026, 4, 17));
  // A day field starting with * is not a restriction: both must hold (odd-day Fridays).
  EXPECT_EQ(Cron("0 0 */2 * 5").NextAfter(Utc(2026, 4, 1)), Utc(2026, 4, 3));
  EXPECT_EQ(Cron("0 0 */2 * 5").NextAfter(Utc(2026, 4, 3)), Utc(2026, 4, 17));
}

TEST(Timing, SecondsFieldAndMillisecondBoundaries) {
  Timing t = Cron("*/15 * * * * *");
  EXPECT_EQ(t.NextAfter(Utc(2026, 1, 1) - 1), Utc(2026, 1, 1));
  EXPECT_EQ(t.NextAfter(Utc(2026, 1, 1)), Utc(2026, 1, 1, 0, 0, 15));
  EXPECT_EQ(t.NextAfter(Utc(2026, 1, 1) + 999), Utc(2026, 1, 1, 0, 0, 15));
}

TEST(Timing, NeverMatchingCronHasNoNext) { EXPECT_FALSE(Cron("0 0 30 2 *").NextAfter(0)); }

// --- Intervals, start and end ----------------------------------------------------------------

TEST(Timing, IntervalsRunOnAbsoluteTimeAcrossDaylightSaving) {
  auto t = Timing::Make(TimingSpec{
      .every_ms = 3'600'000, .time_zone = "America/New_York", .anchor_ms = Utc(2026, 11, 1, 4)});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->Next(Utc(2026, 11, 1, 4), 3),
            (std::vector<int64_t>{Utc(2026, 11, 1, 5), Utc(2026, 11, 1, 6), Utc(2026, 11, 1, 7)}));
  EXPECT_EQ(t->NextAfter(0), Utc(2026, 11, 1, 4));  // nothing before the anchor
}

TEST(Timing, StartAndEndBoundTheOccurrences) {
  auto t = Timing::Make(TimingSpec{
      .cron = "0 * * * *", .start_at_ms = Utc(2026, 1, 1, 5), .end_at_ms = Utc(2026, 1, 1, 7)});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->Next(0, 10),
            (std::vector<int64_t>{Utc(2026, 1, 1, 5), Utc(2026, 1, 1, 6), Utc(2026, 1, 1, 7)}));
  auto every = Timing::Make(TimingSpec{.every_ms = 1000, .start_at_ms = 10'500});
  ASSERT_TRUE(every);
  EXPECT_EQ(every->Next(0, 2), (std::vector<int64_t>{10'500, 11'500}));
  EXPECT_EQ(every->NextAfter(11'500), 12'500);
}

TEST(Timing, ErrorsNameTheField) {
  struct Case {
    TimingSpec spec;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{.cron = "* * *"}, "cron: expected 5 fields"},
      {{.cron = "* * * * *", .every_ms = 1000}, "cron, every_ms: give one"},
      {{}, "cron, every_ms: one of them is required"},
      {{.every_ms = -5}, "every_ms: must be from 1000"},
      {{.every_ms = 999}, "every_ms: must be from 1000"},
      {{.cron = "@daily", .time_zone = "Mars/Olympus"}, "time_zone: \"Mars/Olympus\""},
      {{.cron = "@daily", .time_zone = ""}, "time_zone:"},
      {{.cron = "@daily", .start_at_ms = 2000, .end_at_ms = 1000}, "end_at_ms: must not be"},
  };
  for (const Case& c : cases) {
    auto t = Timing::Make(c.spec);
    ASSERT_FALSE(t) << c.message;
    EXPECT_NE(t.error().message.find(c.message), std::string::npos) << t.error().message;
  }
  EXPECT_TRUE(IsKnownTimeZone("Asia/Shanghai"));
  EXPECT_FALSE(IsKnownTimeZone("Nowhere/Special"));
}

}  // namespace
}  // namespace delayq::schedule
