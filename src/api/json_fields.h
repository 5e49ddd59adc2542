#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace delayq::api {

// Nesting deeper than this is refused before it can exhaust the stack or the CPU.
inline constexpr size_t kMaxJsonDepth = 32;

// Parses a request body that must be one JSON object. Errors say what is wrong and what
// was expected; `what` names the endpoint's fields for the empty-body message.
Result<boost::json::object> ParseBodyObject(std::string_view body, std::string_view what);

// "null", "a boolean", "a number", "a string", "an array", "an object": for messages.
std::string_view KindName(const boost::json::value& value);

// Field accessors: a missing or mistyped field yields kInvalidArgument naming the field.
Result<std::string> RequireString(const boost::json::object& object, std::string_view field);
Result<int64_t> RequireInteger(const boost::json::object& object, std::string_view field);
Result<std::optional<int64_t>> OptionalInteger(const boost::json::object& object,
                                               std::string_view field);
Result<std::optional<std::string>> OptionalString(const boost::json::object& object,
                                                  std::string_view field);
Result<std::optional<bool>> OptionalBool(const boost::json::object& object, std::string_view field);

// `field` with a prefix for messages about items of a batch ("tasks[3].delay_ms").
std::string FieldName(std::string_view prefix, std::string_view field);

}  // namespace delayq::api
