#pragma once

#include <chrono>
#include <cstdint>

namespace loadgen {

using SteadyClock = std::chrono::steady_clock;

inline int64_t WallClockMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t MicrosSince(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start).count();
}

inline double SecondsBetween(SteadyClock::time_point start, SteadyClock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

inline double Millis(uint64_t micros) { return static_cast<double>(micros) / 1000.0; }

}  // namespace loadgen
