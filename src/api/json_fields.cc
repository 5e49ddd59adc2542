#include "api/json_fields.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <limits>

namespace delayq::api {

namespace json = boost::json;

Result<json::object> ParseBodyObject(std::string_view body, std::string_view what) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Fail(Errc::kInvalidArgument,
                "request body is empty; send a JSON object with " + std::string(what));
  }
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value value =
      json::parse(json::string_view(body.data(), body.size()), ec, json::storage_ptr(), options);
  if (ec) {
    return Fail(Errc::kInvalidArgument, "request body is not valid JSON (" + ec.message() +
                                            "); send a JSON object with " + std::string(what));
  }
  if (!value.is_object()) {
    return Fail(Errc::kInvalidArgument,
                "request body must be a JSON object with " + std::string(what));
  }
  return std::move(value.get_object());
}

std::string_view KindName(const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "unknown";
}

namespace {

Result<int64_t> ToInteger(const json::value& value, std::string_view field) {
  std::string name(field);
  if (value.is_int64()) return value.get_int64();
  if (value.is_uint64()) {
    return Fail(Errc::kInvalidArgument,
                name + " is out of range (" + std::to_string(value.get_uint64()) + ")");
  }
  if (value.is_double()) {
    double d = value.get_double();
    // Accept 1565700615.0 from clients that only have doubles; refuse fractions and
    // values beyond int64.
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e18) {
      return static_cast<int64_t>(d);
    }
    if (!std::isfinite(d) || std::trunc(d) == d) {
      return Fail(Errc::kInvalidArgument, name + " is out of range (a 64-bit integer expected)");
    }
    return Fail(Errc::kInvalidArgument, name + " must be a whole number");
  }
  return Fail(Errc::kInvalidArgument,
              name + " must be an integer number, not " + std::string(KindName(value)));
}

}  // namespace

Result<std::string> RequireString(const json::object& object, std::string_view field) {
  const json::value* value = object.if_contains(json::string_view(field.data(), field.size()));
  if (value == nullptr) return Fail(Errc::kInvalidArgument, std::string(field) + " is required");
  if (!value->is_string()) {
    return Fail(Errc::kInvalidArgument,
                std::string(field) + " must be a string, not " + std::string(KindName(*value)));
  }
  const json::string& s = value->get_string();
  return std::string(s.data(), s.size());
}

Result<int64_t> RequireInteger(const json::object& object, std::string_view field) {
  const json::value* value = object.if_contains(json::string_view(field.data(), field.size()));
  if (value == nullptr) return Fail(Errc::kInvalidArgument, std::string(field) + " is required");
  return ToInteger(*value, field);
}

Result<std::optional<int64_t>> OptionalInteger(const json::object& object, std::string_view field) {
  const json::value* value = object.if_contains(json::string_view(field.data(), field.size()));
  if (value == nullptr || value->is_null()) return std::optional<int64_t>();
  auto integer = ToInteger(*value, field);
  if (!integer) return std::unexpected(integer.error());
  return std::optional<int64_t>(*integer);
}

Result<std::optional<std::string>> OptionalString(const json::object& object,
                                                  std::string_view field) {
  const json::value* value = object.if_contains(json::string_view(field.data(), field.size()));
  if (value == nullptr || value->is_null()) return std::optional<std::string>();
  if (!value->is_string()) {
    return Fail(Errc::kInvalidArgument,
                std::string(field) + " must be a string, not " + std::string(KindName(*value)));
  }
  return std::optional<std::string>(std::string(value->get_string()));
}

Result<std::optional<bool>> OptionalBool(const json::object& object, std::string_view field) {
  const json::value* value = object.if_contains(json::string_view(field.data(), field.size()));
  if (value == nullptr || value->is_null()) return std::optional<bool>();
  if (!value->is_bool()) {
    return Fail(Errc::kInvalidArgument, std::string(field) + " must be true or false, not " +
                                            std::string(KindName(*value)));
  }
  return std::optional<bool>(value->get_bool());
}

std::string FieldName(std::string_view prefix, std::string_view field) {
  return std::string(prefix) + std::string(field);
}

}  // namespace delayq::api
