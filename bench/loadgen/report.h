#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

#include "histogram.h"

namespace loadgen {

// One kind of failure of a run: how many, and the first one's description, so that a failing
// run says why.
struct ErrorTally {
  uint64_t count = 0;
  std::string first;

  void Note(std::string what, uint64_t how_many = 1) {
    count += how_many;
    if (first.empty()) first = std::move(what);
  }
  void Merge(const ErrorTally& other) {
    count += other.count;
    if (first.empty()) first = other.first;
  }
};

// The one line of JSON a scenario prints on stdout, its fields in the order they are set, and
// whether the run is a valid measurement, which becomes the exit status.
class Report {
 public:
  explicit Report(std::string_view scenario);

  template <std::integral T>
  Report& Set(std::string_view name, T value) {
    if constexpr (std::signed_integral<T>) {
      return Raw(name, std::to_string(static_cast<long long>(value)));
    } else {
      return Raw(name, std::to_string(static_cast<unsigned long long>(value)));
    }
  }
  Report& Set(std::string_view name, double value, int decimals = 3);
  Report& Set(std::string_view name, std::string_view text);
  Report& Set(std::string_view name, const char* text) { return Set(name, std::string_view(text)); }

  // PREFIXp50_ms, PREFIXp99_ms (and PREFIXmax_ms) of a histogram of microseconds.
  Report& Latency(std::string_view prefix, const LatencyHistogram& histogram, bool with_max = true);

  // The count as a field, and "loadgen SCENARIO: N WHAT, first: ..." on stderr when any.
  Report& Errors(std::string_view field, std::string_view what, const ErrorTally& tally);

  // The run is a valid measurement only if every condition required holds.
  Report& Require(bool condition) {
    valid_ = valid_ && condition;
    return *this;
  }

  // Prints the line; returns the exit status (0 when valid, 1 when not).
  int Print();

 private:
  Report& Raw(std::string_view name, std::string_view json_value);

  std::string scenario_;
  std::string line_;
  bool valid_ = true;
};

}  // namespace loadgen
