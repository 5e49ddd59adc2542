#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "schedule/cron.h"

namespace date {
class time_zone;
}

namespace delayq::schedule {

// Interval schedules fire at most this often: an occurrence's task is created when the
// previous one falls due, so shorter periods would mostly measure that step.
inline constexpr int64_t kMinEveryMs = 1'000;
// ... and at least once in ten years (a longer period is almost certainly a unit mistake).
inline constexpr int64_t kMaxEveryMs = 10LL * 366 * 24 * 3600 * 1000;

// When a schedule fires, as given by the user. Exactly one of `cron` and `every_ms`.
struct TimingSpec {
  std::string cron{};
  int64_t every_ms = 0;
  std::string time_zone = "UTC";  // IANA name; cron only (intervals run on absolute time)
  int64_t anchor_ms = 0;    // intervals without start_at_ms: occurrences at anchor + k*every_ms
  int64_t start_at_ms = 0;  // 0: none; no occurrence before it
  int64_t end_at_ms = 0;    // 0: none; no occurrence after it
};

// The occurrences of a schedule: unix milliseconds, strictly increasing. Pure: time comes
// from the caller; the time-zone rules are the system's IANA database (tzdata), read once.
//
// Cron expressions are matched against the wall clock of `time_zone`. Daylight saving:
// - a matching local time that does not exist (the clocks jump over it) fires once, at the
//   first instant after the gap (all matches inside one gap fire together, once);
// - a matching local time that happens twice (the clocks go back) fires once, at the first.
// Intervals ignore time zones and daylight saving: anchor + k * every_ms.
//
// Copyable, immutable, thread-safe.
class Timing {
 public:
  // kInvalidArgument naming the field: `cron`, `every_ms`, `time_zone`, `end_at_ms`.
  static Result<Timing> Make(const TimingSpec& spec);

  // The first occurrence strictly after `after_ms`; nullopt when there is none (past
  // end_at_ms, or a cron that never matches).
  std::optional<int64_t> NextAfter(int64_t after_ms) const;
  // Up to `n` occurrences after `after_ms`.
  std::vector<int64_t> Next(int64_t after_ms, size_t n) const;

  bool is_cron() const { return is_cron_; }

 private:
  std::optional<int64_t> CronNextAfter(int64_t after_ms) const;

  bool is_cron_ = false;
  CronExpr cron_;
  int64_t every_ms_ = 0;
  int64_t anchor_ms_ = 0;
  int64_t start_at_ms_ = 0;
  int64_t end_at_ms_ = 0;
  const date::time_zone* zone_ = nullptr;  // owned by the process-wide tz database
};

// Whether `name` is a time zone of the system's database.
bool IsKnownTimeZone(const std::string& name);

}  // namespace delayq::schedule
