#include "schedule/cron.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <vector>

namespace delayq::schedule {
namespace {

struct FieldDef {
  const char* name;
  unsigned lo;
  unsigned hi;
  const std::array<const char*, 12>* names = nullptr;  // 3-letter names, value = index + base
  unsigned name_base = 0;
  bool question_mark = false;  // `?` means `*` (day fields, as in Quartz and others)
};

constexpr std::array<const char*, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                     "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<const char*, 12> kDayNames = {"sun", "mon", "tue", "wed", "thu", "fri",
                                                   "sat", "",    "",    "",    "",    ""};

const FieldDef kSecond{"second", 0, 59};
const FieldDef kMinute{"minute", 0, 59};
const FieldDef kHour{"hour", 0, 23};
const FieldDef kDayOfMonth{"day-of-month", 1, 31, nullptr, 0, true};
const FieldDef kMonth{"month", 1, 12, &kMonthNames, 1};
// 7 is Sunday too (folded onto 0 after parsing).
const FieldDef kDayOfWeek{"day-of-week", 0, 7, &kDayNames, 0, true};

Error FieldError(const FieldDef& def, std::string_view text, const std::string& why) {
  return Error{Errc::kInvalidArgument,
               "cron: " + std::string(def.name) + " field \"" + std::string(text) + "\": " + why};
}

std::string Range(const FieldDef& def) {
  return std::to_string(def.lo) + "-" + std::to_string(def.hi);
}

// One value: a number or, where the field has them, a 3-letter name.
Result<unsigned> ParseValue(const FieldDef& def, std::string_view field, std::string_view v) {
  if (v.empty()) return std::unexpected(FieldError(def, field, "a value is missing"));
  if (std::isdigit(static_cast<unsigned char>(v[0]))) {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size()) {
      return std::unexpected(FieldError(def, field, "\"" + std::string(v) + "\" is not a number"));
    }
    if (n < def.lo || n > def.hi) {
      return std::unexpected(
          FieldError(def, field, std::to_string(n) + " is out of range " + Range(def)));
    }
    return n;
  }
  if (def.names != nullptr && v.size() == 3) {
    std::string lower(v);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (size_t i = 0; i < def.names->size(); ++i) {
      if (lower == (*def.names)[i]) return static_cast<unsigned>(i) + def.name_base;
    }
  }
  std::string why = "\"" + std::string(v) + "\" is not a number";
  if (def.names != nullptr) why += def.names == &kMonthNames ? " or month name" : " or day name";
  return std::unexpected(FieldError(def, field, why + " (allowed: " + Range(def) + ")"));
}

// One comma-separated item: `*`, `v`, `a-b`, each optionally `/step`.
Result<uint64_t> ParseItem(const FieldDef& def, std::string_view field, std::string_view item) {
  std::string_view range = item;
  unsigned step = 1;
  bool stepped = false;
  if (size_t slash = item.find('/'); slash != std::string_view::npos) {
    range = item.substr(0, slash);
    std::string_view s = item.substr(slash + 1);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || step == 0) {
      return std::unexpected(
          FieldError(def, field, "step \"" + std::string(s) + "\" is not a positive number"));
    }
    if (step > def.hi - def.lo + 1) {
      return std::unexpected(FieldError(def, field,
                                        "step " + std::to_string(step) +
                                            " is larger than the "
                                            "range " +
                                            Range(def)));
    }
    stepped = true;
  }
  unsigned lo = def.lo, hi = def.hi;
  if (range == "*" || (def.question_mark && range == "?")) {
    // the whole range
  } else if (size_t dash = range.find('-'); dash != std::string_view::npos) {
    auto a = ParseValue(def, field, range.substr(0, dash));
    if (!a) return std::unexpected(a.error());
    auto b = ParseValue(def, field, range.substr(dash + 1));
    if (!b) return std::unexpected(b.error());
    if (*a > *b) {
      return std::unexpected(FieldError(
          def, field,
          "range " + std::string(range) + " runs backwards (write it low-high, or as a list)"));
    }
    lo = *a;
    hi = *b;
  } else {
    auto a = ParseValue(def, field, range);
    if (!a) return std::unexpected(a.error());
    lo = *a;
    hi = stepped ? def.hi : *a;  // `5/15` means 5, 20, 35, ... up to the field's maximum
  }
  uint64_t bits = 0;
  for (unsigned v = lo; v <= hi; v += step) bits |= uint64_t{1} << v;
  return bits;
}

Result<uint64_t> ParseField(const FieldDef& def, std::string_view field) {
  if (field.empty()) return std::unexpected(FieldError(def, field, "the field is empty"));
  uint64_t bits = 0;
  size_t start = 0;
  while (true) {
    size_t comma = field.find(',', start);
    std::string_view item =
        field.substr(start, comma == std::string_view::npos ? field.npos : comma - start);
    if (item.empty()) return std::unexpected(FieldError(def, field, "a list item is empty"));
    auto item_bits = ParseItem(def, field, item);
    if (!item_bits) return std::unexpected(item_bits.error());
    bits |= *item_bits;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return bits;
}

std::string_view ExpandMacro(std::string_view text) {
  if (text == "@yearly" || text == "@annually") return "0 0 1 1 *";
  if (text == "@monthly") return "0 0 1 * *";
  if (text == "@weekly") return "0 0 * * 0";
  if (text == "@daily" || text == "@midnight") return "0 0 * * *";
  if (text == "@hourly") return "0 * * * *";
  return {};
}

std::vector<std::string_view> SplitFields(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  return fields;
}

bool Unrestricted(std::string_view field) {
  return !field.empty() && (field[0] == '*' || field[0] == '?');
}

}  // namespace

Result<CronExpr> ParseCron(std::string_view text) {
  std::vector<std::string_view> fields = SplitFields(text);
  if (fields.size() == 1 && fields[0].starts_with('@')) {
    std::string_view expanded = ExpandMacro(fields[0]);
    if (expanded.empty()) {
      return Fail(Errc::kInvalidArgument,
                  "cron: unknown macro \"" + std::string(fields[0]) +
                      "\" (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, "
                      "@hourly)");
    }
    fields = SplitFields(expanded);
  }
  if (fields.size() != 5 && fields.size() != 6) {
    return Fail(Errc::kInvalidArgument,
                "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 with "
                "a leading seconds field, got " +
                    std::to_string(fields.size()));
  }
  CronExpr expr;
  expr.has_seconds = fields.size() == 6;
  size_t i = 0;
  if (expr.has_seconds) {
    auto s = ParseField(kSecond, fields[i++]);
    if (!s) return std::unexpected(s.error());
    expr.seconds = std::bitset<60>(*s);
  } else {
    expr.seconds.set(0);
  }
  const FieldDef* defs[] = {&kMinute, &kHour, &kDayOfMonth, &kMonth, &kDayOfWeek};
  uint64_t bits[5];
  for (int f = 0; f < 5; ++f) {
    auto b = ParseField(*defs[f], fields[i + f]);
    if (!b) return std::unexpected(b.error());
    bits[f] = *b;
  }
  if (bits[4] & (uint64_t{1} << 7)) bits[4] = (bits[4] | 1) & 0x7f;  // 7 is Sunday
  expr.minutes = std::bitset<60>(bits[0]);
  expr.hours = std::bitset<24>(bits[1]);
  expr.days = std::bitset<32>(bits[2]);
  expr.months = std::bitset<13>(bits[3]);
  expr.weekdays = std::bitset<7>(bits[4]);
  expr.dom_restricted = !Unrestricted(fields[i + 2]);
  expr.dow_restricted = !Unrestricted(fields[i + 4]);
  return expr;
}

// --- Matching ------------------------------------------------------------------------------

namespace {

unsigned DaysInMonth(int year, unsigned month) {
  using namespace std::chrono;
  return static_cast<unsigned>(
      year_month_day_last(std::chrono::year(year), month_day_last(std::chrono::month(month)))
          .day());
}

unsigned Weekday(int year, unsigned month, unsigned day) {
  using namespace std::chrono;
  return weekday(
             sys_days(std::chrono::year(year) / std::chrono::month(month) / std::chrono::day(day)))
      .c_encoding();
}

// The lowest set bit at or above `from`, or -1.
template <size_t N>
int NextBit(const std::bitset<N>& bits, unsigned from) {
  for (unsigned v = from; v < N; ++v) {
    if (bits[v]) return static_cast<int>(v);
  }
  return -1;
}

void NextDay(CivilTime& t) {
  t.hour = t.minute = t.second = 0;
  if (++t.day > DaysInMonth(t.year, t.month)) {
    t.day = 1;
    if (++t.month > 12) {
      t.month = 1;
      ++t.year;
    }
  }
}

}  // namespace

bool CronExpr::DayMatches(int year, unsigned month, unsigned day) const {
  bool dom = days[day];
  bool dow = weekdays[Weekday(year, month, day)];
  if (dom_restricted && dow_restricted) return dom || dow;
  return dom && dow;
}

bool CronExpr::Matches(const CivilTime& t) const {
  return months[t.month] && DayMatches(t.year, t.month, t.day) && hours[t.hour] &&
         minutes[t.minute] && seconds[t.second];
}

std::optional<CivilTime> NextMatch(const CronExpr& expr, CivilTime t, int max_years) {
  const int last_year = t.year + max_years;
  while (t.year <= last_year) {
    if (!expr.months[t.month]) {
      int m = NextBit(expr.months, t.month + 1);
      if (m < 0) {
        ++t.year;
        m = NextBit(expr.months, 1);
      }
      t.month = static_cast<unsigned>(m);
      t.day = 1;
      t.hour = t.minute = t.second = 0;
      continue;
    }
    if (!expr.DayMatches(t.year, t.month, t.day)) {
      NextDay(t);
      continue;
    }
    int h = NextBit(expr.hours, t.hour);
    if (h < 0) {
      NextDay(t);
      continue;
    }
    if (static_cast<unsigned>(h) != t.hour) {
      t.hour = static_cast<unsigned>(h);
      t.minute = t.second = 0;
    }
    int m = NextBit(expr.minutes, t.minute);
    if (m < 0) {
      // Past the hour's last minute: the next hour (NextBit above finds the next match).
      if (++t.hour > 23) NextDay(t);
      t.minute = t.second = 0;
      continue;
    }
    if (static_cast<unsigned>(m) != t.minute) {
      t.minute = static_cast<unsigned>(m);
      t.second = 0;
    }
    int s = NextBit(expr.seconds, t.second);
    if (s < 0) {
      t.second = 0;
      if (++t.minute > 59) {
        t.minute = 0;
        if (++t.hour > 23) NextDay(t);
      }
      continue;
    }
    t.second = static_cast<unsigned>(s);
    return t;
  }
  return std::nullopt;
}

}  // namespace delayq::schedule
