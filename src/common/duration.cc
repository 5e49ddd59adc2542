#include "common/duration.h"

#include <charconv>
#include <limits>
#include <string>

namespace delayq {
namespace {

struct Unit {
  std::string_view suffix;
  uint64_t factor;
};

// Splits "<digits><suffix>" and multiplies by the suffix's factor, refusing overflow.
Result<uint64_t> ParseScaled(std::string_view text, std::initializer_list<Unit> units,
                             std::string_view what) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) {
    return Fail(Errc::kInvalidArgument,
                "invalid " + std::string(what) + " '" + std::string(text) + "': expected a number");
  }
  std::string_view suffix(end, text.data() + text.size() - end);
  for (const Unit& unit : units) {
    if (suffix == unit.suffix) {
      if (unit.factor != 0 && value > std::numeric_limits<int64_t>::max() / unit.factor) {
        return Fail(Errc::kInvalidArgument,
                    "invalid " + std::string(what) + " '" + std::string(text) + "': too large");
      }
      return value * unit.factor;
    }
  }
  return Fail(Errc::kInvalidArgument, "invalid " + std::string(what) + " '" + std::string(text) +
                                          "': unknown unit '" + std::string(suffix) + "'");
}

}  // namespace

Result<int64_t> ParseDurationMs(std::string_view text) {
  auto parsed = ParseScaled(
      text, {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}},
      "duration");
  if (!parsed) return std::unexpected(parsed.error());
  return static_cast<int64_t>(*parsed);
}

Result<uint64_t> ParseSizeBytes(std::string_view text) {
  constexpr uint64_t kKi = 1024;
  return ParseScaled(text,
                     {{"", 1},
                      {"B", 1},
                      {"KiB", kKi},
                      {"KB", kKi},
                      {"MiB", kKi * kKi},
                      {"MB", kKi * kKi},
                      {"GiB", kKi * kKi * kKi},
                      {"GB", kKi * kKi * kKi}},
                     "size");
}

}  // namespace delayq
