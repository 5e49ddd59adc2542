#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace delayq::schedule {

// A wall-clock time with no zone: what a cron expression is matched against.
struct CivilTime {
  int year = 1970;
  unsigned month = 1;  // 1-12
  unsigned day = 1;    // 1-31
  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;
};

// A parsed cron expression: 5 fields (minute hour day-of-month month day-of-week) or 6 with a
// leading seconds field; lists (`1,5`), ranges (`1-5`), steps (`*/7`, `10-40/10`, `5/15`),
// month and day names (`JAN`, `mon-fri`, any case), `?` for `*` in the day fields, 7 for
// Sunday, and the macros `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily`
// (`@midnight`), `@hourly`.
//
// Day rule (as in Vixie cron): when both day-of-month and day-of-week are restricted (their
// text does not start with `*` or `?`), a day matches if either matches; otherwise both must.
struct CronExpr {
  std::bitset<60> seconds;  // {0} when the expression has no seconds field
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;     // 1-31
  std::bitset<13> months;   // 1-12
  std::bitset<7> weekdays;  // 0 = Sunday
  bool dom_restricted = false;
  bool dow_restricted = false;
  bool has_seconds = false;

  bool DayMatches(int year, unsigned month, unsigned day) const;
  bool Matches(const CivilTime& t) const;
};

// Errors (kInvalidArgument) name the field and why, e.g.
// "cron: hour field \"25\": 25 is out of range 0-23".
Result<CronExpr> ParseCron(std::string_view text);

// The first civil time at or after `from` (whole seconds) that `expr` matches, searching at
// most `max_years` ahead; nullopt when there is none (e.g. `0 0 30 2 *`). Pure civil
// arithmetic: time zones are the caller's concern (timing.h).
std::optional<CivilTime> NextMatch(const CronExpr& expr, CivilTime from, int max_years = 30);

}  // namespace delayq::schedule
