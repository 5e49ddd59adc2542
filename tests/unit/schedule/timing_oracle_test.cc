// The next fire time against a brute-force oracle: random cron expressions in random zones,
// from random instants (half of them just before a daylight-saving change).
#include <date/tz.h>
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <optional>
#include <random>
#include <string>

#include "schedule/cron.h"
#include "schedule/timing.h"

namespace delayq::schedule {
namespace {

using std::chrono::seconds;
using SysSeconds = date::sys_time<seconds>;
using LocalSeconds = date::local_time<seconds>;

// The wall clock of a local time, by the C library rather than the date library that
// schedule/timing.cc uses, so that the oracle shares no conversion with the code under test.
CivilTime ToCivil(LocalSeconds t) {
  std::time_t s = t.time_since_epoch().count();
  std::tm tm{};
  gmtime_r(&s, &tm);
  return CivilTime{tm.tm_year + 1900,
                   static_cast<unsigned>(tm.tm_mon + 1),
                   static_cast<unsigned>(tm.tm_mday),
                   static_cast<unsigned>(tm.tm_hour),
                   static_cast<unsigned>(tm.tm_min),
                   static_cast<unsigned>(tm.tm_sec)};
}

// Steps absolute time one unit (minute, or second) at a time. A local time fires at the first
// instant whose wall clock reaches it: the times a clock jumps over fire at the first instant
// after the jump, and times shown a second time (clocks went back) were reached already.
std::optional<int64_t> Oracle(const CronExpr& expr, const date::time_zone& zone, int64_t after_ms,
                              int64_t max_steps) {
  const int64_t unit = expr.has_seconds ? 1 : 60;
  int64_t t = after_ms / 1000;  // after_ms >= 0 in this test
  // The latest wall clock shown at or before `after` (clocks go back by at most hours).
  LocalSeconds reached = zone.to_local(SysSeconds{seconds(t)});
  for (int64_t u = t - 4 * 3600; u <= t; ++u) {
    reached = std::max(reached, zone.to_local(SysSeconds{seconds(u)}));
  }
  // Local times are whole minutes apart from UTC: minute cron compares whole minutes.
  if (unit == 60) reached = date::floor<std::chrono::minutes>(reached);
  int64_t u = (t / unit + 1) * unit;
  for (int64_t step = 0; step < max_steps; ++step, u += unit) {
    LocalSeconds local = zone.to_local(SysSeconds{seconds(u)});
    if (local <= reached) continue;
    for (LocalSeconds v = reached + seconds(unit); v <= local; v += seconds(unit)) {
      if (expr.Matches(ToCivil(v))) return u * 1000;
    }
    reached = local;
  }
  return std::nullopt;
}

std::string Field(std::mt19937_64& rng, int lo, int hi, int star_percent) {
  auto pick = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  if (pick(1, 100) <= star_percent) return "*";
  int a = pick(lo, hi), b = pick(lo, hi);
  if (a > b) std::swap(a, b);
  switch (pick(0, 4)) {
    case 0:
      return std::to_string(a);
    case 1:
      return std::to_string(a) + "-" + std::to_string(b);
    case 2:
      return "*/" + std::to_string(pick(1, std::max(1, (hi - lo + 1) / 2)));
    case 3:
      return std::to_string(a) + "," + std::to_string(b);
    default:
      return std::to_string(a) + "-" + std::to_string(b) + "/" + std::to_string(pick(1, 5));
  }
}

std::string RandomCron(std::mt19937_64& rng, bool with_seconds) {
  std::string cron = with_seconds ? Field(rng, 0, 59, 30) + " " : "";
  cron += Field(rng, 0, 59, 20) + " " + Field(rng, 0, 23, 40) + " " + Field(rng, 1, 31, 75) + " " +
          Field(rng, 1, 12, 85) + " " + Field(rng, 0, 7, 65);
  return cron;
}

TEST(TimingOracle, NextFireIsTheFirstMatchingUnitReached) {
  const char* zones[] = {"America/New_York",
                         "Europe/London",
                         "Australia/Lord_Howe",
                         "Asia/Shanghai",
                         "UTC",
                         "Pacific/Chatham",
                         "Asia/Kathmandu",
                         "America/Santiago",
                         "Antarctica/Troll",
                         "Europe/Berlin"};
  std::mt19937_64 rng(20261203);
  int compared = 0, found = 0;
  for (int round = 0; round < 240; ++round) {
    const bool with_seconds = round % 4 == 0;
    const std::string cron = RandomCron(rng, with_seconds);
    const std::string zone_name = zones[round % std::size(zones)];
    const date::time_zone* zone = date::locate_zone(zone_name);
    auto expr = ParseCron(cron);
    ASSERT_TRUE(expr) << cron << ": " << expr.error().message;
    auto timing = Timing::Make(TimingSpec{.cron = cron, .time_zone = zone_name});
    ASSERT_TRUE(timing) << cron;

    // 2020..2035, and every other round moved to just before the zone's next change.
    int64_t after_s = std::uniform_int_distribution<int64_t>(1'577'836'800, 2'082'758'400)(rng);
    if (round % 2 == 1) {
      date::sys_info info = zone->get_info(SysSeconds{seconds(after_s)});
      int64_t change = info.end.time_since_epoch().count();
      if (change < 4'000'000'000) {
        after_s = change - std::uniform_int_distribution<int64_t>(0, 3 * 3600)(rng);
      }
    }
    int64_t after_ms = after_s * 1000 + std::uniform_int_distribution<int64_t>(0, 999)(rng);
    const int64_t max_steps = with_seconds ? 2 * 86'400 : 8 * 1440;
    for (int fire = 0; fire < 2; ++fire) {
      std::optional<int64_t> want = Oracle(*expr, *zone, after_ms, max_steps);
      std::optional<int64_t> got = timing->NextAfter(after_ms);
      ++compared;
      if (want) {
        ++found;
        ASSERT_EQ(got, want) << cron << " in " << zone_name << " after " << after_ms;
      } else {
        // Nothing within the oracle's horizon: the answer lies beyond it, or there is none.
        const int64_t horizon = (after_ms / 1000 + max_steps * (with_seconds ? 1 : 60)) * 1000;
        ASSERT_TRUE(!got || *got > horizon)
            << cron << " in " << zone_name << " after " << after_ms << " got " << *got;
        break;
      }
      after_ms = *want;
    }
  }
  // Most random expressions fire within the horizon; otherwise this test would test little.
  EXPECT_GT(found, compared / 2) << found << " of " << compared;
}

}  // namespace
}  // namespace delayq::schedule
