#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace delayq {

// Parses "250ms", "30s", "10m", "72h", "3d" (or a bare integer, read as milliseconds)
// into milliseconds. Used by configuration keys such as `retention`.
Result<int64_t> ParseDurationMs(std::string_view text);

// Parses "512", "64KiB", "1MiB", "2GiB" (also KB/MB/GB as powers of 1024) into bytes.
Result<uint64_t> ParseSizeBytes(std::string_view text);

}  // namespace delayq
