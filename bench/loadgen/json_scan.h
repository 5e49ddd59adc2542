#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "http_connection.h"

namespace loadgen {

// The few fields we read are flat in the top-level object of responses we know the shape of,
// so a scan for `"name":` is enough; a real JSON parser would dominate the client's CPU.
std::optional<std::string_view> RawField(std::string_view json, std::string_view name);
std::optional<int64_t> IntegerField(std::string_view json, std::string_view name);
// Task ids use all 64 bits; strtoll would saturate the ones above 2^63.
std::optional<uint64_t> TaskIdField(std::string_view json);

// A seed API answer that succeeded: 200 with "dm_error":0.
bool IsSuccess(const HttpResponse& response);

// A v1 task id ("384241960623276032") or another positive decimal; nothing but digits.
std::optional<uint64_t> ParsePositiveDecimal(std::string_view text);

}  // namespace loadgen
