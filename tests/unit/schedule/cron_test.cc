#include "schedule/cron.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace delayq::schedule {
namespace {

CronExpr Parse(const std::string& text) {
  auto expr = ParseCron(text);
  EXPECT_TRUE(expr.has_value()) << text << ": " << (expr ? "" : expr.error().message);
  return expr.value_or(CronExpr{});
}

std::vector<int> Bits(const auto& bits) {
  std::vector<int> out;
  for (size_t i = 0; i < bits.size(); ++i) {
    if (bits[i]) out.push_back(static_cast<int>(i));
  }
  return out;
}

TEST(Cron, FiveFieldsHaveSecondZero) {
  CronExpr e = Parse("30 20 * * *");
  EXPECT_FALSE(e.has_seconds);
  EXPECT_EQ(Bits(e.seconds), std::vector<int>{0});
  EXPECT_EQ(Bits(e.minutes), std::vector<int>{30});
  EXPECT_EQ(Bits(e.hours), std::vector<int>{20});
  EXPECT_EQ(e.days.count(), 31u);
  EXPECT_FALSE(e.dom_restricted);
  EXPECT_FALSE(e.dow_restricted);
}

TEST(Cron, SixFieldsLeadWithSeconds) {
  CronExpr e = Parse("*/20 0 12 * * *");
  EXPECT_TRUE(e.has_seconds);
  EXPECT_EQ(Bits(e.seconds), (std::vector<int>{0, 20, 40}));
  EXPECT_EQ(Bits(e.minutes), std::vector<int>{0});
}

TEST(Cron, ListsRangesStepsAndNames) {
  CronExpr e = Parse("1,5,10-12 */7 1-31/10 JAN,mar-May mon-FRI");
  EXPECT_EQ(Bits(e.minutes), (std::vector<int>{1, 5, 10, 11, 12}));
  EXPECT_EQ(Bits(e.hours), (std::vector<int>{0, 7, 14, 21}));
  EXPECT_EQ(Bits(e.days), (std::vector<int>{1, 11, 21, 31}));
  EXPECT_EQ(Bits(e.months), (std::vector<int>{1, 3, 4, 5}));
  EXPECT_EQ(Bits(e.weekdays), (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(e.dom_restricted);
  EXPECT_TRUE(e.dow_restricted);
}

TEST(Cron, ValueSlashStepRunsToTheFieldsEnd) {
  EXPECT_EQ(Bits(Parse("5/15 * * * *").minutes), (std::vector<int>{5, 20, 35, 50}));
}

TEST(Cron, SevenIsSunday) {
  EXPECT_EQ(Bits(Parse("0 0 * * 7").weekdays), std::vector<int>{0});
  EXPECT_EQ(Bits(Parse("0 0 * * 5-7").weekdays), (std::vector<int>{0, 5, 6}));
}

TEST(Cron, Macros) {
  EXPECT_EQ(Bits(Parse("@hourly").minutes), std::vector<int>{0});
  EXPECT_EQ(Parse("@hourly").hours.count(), 24u);
  EXPECT_EQ(Bits(Parse("@daily").hours), std::vector<int>{0});
  EXPECT_EQ(Bits(Parse("@midnight").hours), std::vector<int>{0});
  EXPECT_EQ(Bits(Parse("@weekly").weekdays), std::vector<int>{0});
  EXPECT_EQ(Bits(Parse("@monthly").days), std::vector<int>{1});
  EXPECT_EQ(Bits(Parse("@yearly").months), std::vector<int>{1});
  EXPECT_EQ(Bits(Parse("@annually").days), std::vector<int>{1});
}

TEST(Cron, QuestionMarkIsAStarInTheDayFields) {
  CronExpr e = Parse("0 0 ? * MON");
  EXPECT_FALSE(e.dom_restricted);
  EXPECT_TRUE(e.dow_restricted);
}

struct BadCron {
  std::string text;
  std::string message;  // a part of the error
};

TEST(Cron, ErrorsNameTheFieldAndWhy) {
  const std::vector<BadCron> cases = {
      {"", "expected 5 fields"},
      {"* * * *", "got 4"},
      {"* * * * * * *", "got 7"},
      {"60 * * * *", "minute field \"60\": 60 is out of range 0-59"},
      {"* 24 * * *", "hour field \"24\": 24 is out of range 0-23"},
      {"* * 0 * *", "day-of-month field \"0\": 0 is out of range 1-31"},
      {"* * 32 * *", "day-of-month field \"32\""},
      {"* * * 13 *", "month field \"13\": 13 is out of range 1-12"},
      {"* * * * 8", "day-of-week field \"8\": 8 is out of range 0-7"},
      {"61 * * * * *", "second field \"61\""},
      {"*/0 * * * *", "minute field \"*/0\": step \"0\" is not a positive number"},
      {"*/x * * * *", "step \"x\" is not a positive number"},
      {"*/61 * * * *", "step 61 is larger than the range 0-59"},
      {"10-5 * * * *", "range 10-5 runs backwards"},
      {"1,,2 * * * *", "a list item is empty"},
      {"a * * * *", "minute field \"a\": \"a\" is not a number"},
      {"* * * foo *", "month field \"foo\": \"foo\" is not a number or month name"},
      {"* * * * sunday", "day-of-week field \"sunday\""},
      {"* * * JAN-xyz *", "\"xyz\" is not a number or month name"},
      {"@every5m", "unknown macro \"@every5m\""},
      {"? * * * *", "minute field \"?\""},
      {"1- * * * *", "a value is missing"},
  };
  for (const BadCron& c : cases) {
    auto expr = ParseCron(c.text);
    ASSERT_FALSE(expr.has_value()) << c.text;
    EXPECT_EQ(expr.error().code, Errc::kInvalidArgument) << c.text;
    EXPECT_NE(expr.error().message.find(c.message), std::string::npos)
        << c.text << " -> " << expr.error().message;
    EXPECT_TRUE(expr.error().message.starts_with("cron: ")) << expr.error().message;
  }
}

TEST(Cron, NextMatchWalksCivilTime) {
  CronExpr e = Parse("0 0 31 * *");
  auto next = NextMatch(e, CivilTime{2026, 2, 1, 0, 0, 0});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->month, 3u);
  EXPECT_EQ(next->day, 31u);
  EXPECT_FALSE(NextMatch(Parse("0 0 30 2 *"), CivilTime{2026, 1, 1}));
}

}  // namespace
}  // namespace delayq::schedule
