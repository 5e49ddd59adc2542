#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace delayq::api {

// Parses an RFC 3339 date-time ("2026-11-26T20:00:00Z", "2026-11-26T20:00:00.250+08:00")
// into unix milliseconds. Fractions beyond milliseconds are truncated.
Result<int64_t> ParseRfc3339Ms(std::string_view text);

}  // namespace delayq::api
