#include "schedule/timing.h"

#include <date/tz.h>

#include <chrono>
#include <stdexcept>

namespace delayq::schedule {
namespace {

using std::chrono::seconds;
using LocalSeconds = date::local_time<seconds>;
using SysSeconds = date::sys_time<seconds>;

// A cron search steps past at most this many matches that fall before `after` (the second
// pass through a repeated hour: 3,600 for an every-second expression).
constexpr int kMaxSkippedMatches = 10'000;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

CivilTime ToCivil(LocalSeconds t) {
  auto day = date::floor<date::days>(t);
  date::year_month_day ymd(day);
  date::hh_mm_ss<seconds> hms(t - day);
  return CivilTime{static_cast<int>(ymd.year()),
                   static_cast<unsigned>(ymd.month()),
                   static_cast<unsigned>(ymd.day()),
                   static_cast<unsigned>(hms.hours().count()),
                   static_cast<unsigned>(hms.minutes().count()),
                   static_cast<unsigned>(hms.seconds().count())};
}

LocalSeconds FromCivil(const CivilTime& c) {
  date::local_days day{date::year(c.year) / date::month(c.month) / date::day(c.day)};
  return day + std::chrono::hours(c.hour) + std::chrono::minutes(c.minute) + seconds(c.second);
}

// The instant a local time fires at, per the daylight-saving policy in timing.h.
SysSeconds FireInstant(const date::time_zone& zone, LocalSeconds local) {
  date::local_info info = zone.get_info(local);
  if (info.result == date::local_info::nonexistent) return info.first.end;  // the jump
  // unique, or ambiguous: the first of the two (the earlier offset period)
  return SysSeconds{local.time_since_epoch() - info.first.offset};
}

Error Invalid(std::string message) { return Error{Errc::kInvalidArgument, std::move(message)}; }

}  // namespace

bool IsKnownTimeZone(const std::string& name) {
  try {
    return date::locate_zone(name) != nullptr;
  } catch (const std::runtime_error&) {
    return false;
  }
}

Result<Timing> Timing::Make(const TimingSpec& spec) {
  Timing timing;
  if (!spec.cron.empty() && spec.every_ms != 0) {
    return std::unexpected(Invalid("cron, every_ms: give one of them, not both"));
  }
  if (spec.cron.empty() && spec.every_ms == 0) {
    return std::unexpected(Invalid("cron, every_ms: one of them is required"));
  }
  if (spec.end_at_ms != 0 && spec.end_at_ms < spec.start_at_ms) {
    return std::unexpected(Invalid("end_at_ms: must not be before start_at_ms"));
  }
  try {
    timing.zone_ = date::locate_zone(spec.time_zone);
  } catch (const std::runtime_error&) {
    return std::unexpected(Invalid("time_zone: \"" + spec.time_zone +
                                   "\" is not an IANA time zone of this system's database (for "
                                   "example \"Europe/London\", \"UTC\")"));
  }
  if (!spec.cron.empty()) {
    auto cron = ParseCron(spec.cron);
    if (!cron) return std::unexpected(cron.error());
    timing.is_cron_ = true;
    timing.cron_ = *cron;
  } else if (spec.every_ms < kMinEveryMs || spec.every_ms > kMaxEveryMs) {
    return std::unexpected(Invalid("every_ms: must be from " + std::to_string(kMinEveryMs) +
                                   " (one second) to " + std::to_string(kMaxEveryMs) +
                                   " (ten years), got " + std::to_string(spec.every_ms)));
  }
  timing.every_ms_ = spec.every_ms;
  timing.anchor_ms_ = spec.start_at_ms != 0 ? spec.start_at_ms : spec.anchor_ms;
  timing.start_at_ms_ = spec.start_at_ms;
  timing.end_at_ms_ = spec.end_at_ms;
  return timing;
}

std::optional<int64_t> Timing::NextAfter(int64_t after_ms) const {
  if (start_at_ms_ != 0 && after_ms < start_at_ms_) after_ms = start_at_ms_ - 1;
  std::optional<int64_t> next;
  if (is_cron_) {
    next = CronNextAfter(after_ms);
  } else if (after_ms < anchor_ms_) {
    next = anchor_ms_;
  } else {
    next = anchor_ms_ + (FloorDiv(after_ms - anchor_ms_, every_ms_) + 1) * every_ms_;
  }
  if (next && end_at_ms_ != 0 && *next > end_at_ms_) return std::nullopt;
  return next;
}

std::vector<int64_t> Timing::Next(int64_t after_ms, size_t n) const {
  std::vector<int64_t> out;
  while (out.size() < n) {
    auto next = NextAfter(after_ms);
    if (!next) break;
    out.push_back(*next);
    after_ms = *next;
  }
  return out;
}

std::optional<int64_t> Timing::CronNextAfter(int64_t after_ms) const {
  // Cron fires on whole seconds: the first fire > after_ms is the first whole second > this.
  SysSeconds after{seconds(FloorDiv(after_ms, 1000))};
  // Every local time up to the wall clock shown at `after` fires at or before it (the mapping
  // from local time to instant never goes back), so the search starts just past it.
  LocalSeconds local = zone_->to_local(after) + seconds(1);
  for (int i = 0; i < kMaxSkippedMatches; ++i) {
    auto match = NextMatch(cron_, ToCivil(local));
    if (!match) return std::nullopt;
    LocalSeconds found = FromCivil(*match);
    SysSeconds fire = FireInstant(*zone_, found);
    if (fire > after) return fire.time_since_epoch().count() * 1000;
    local = found + seconds(1);  // a match in the repeated hour, already fired the first time
  }
  return std::nullopt;
}

}  // namespace delayq::schedule
