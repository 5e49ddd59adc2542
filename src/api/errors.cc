#include "api/errors.h"

#include <boost/json.hpp>

namespace delayq::api {

ErrorMapping MapError(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
      return {400, kDmInvalid};
    case Errc::kTooLarge:
      return {413, kDmInvalid};
    case Errc::kNotFound:
      return {404, kDmNotFound};
    case Errc::kNotDue:
      return {409, kDmNotDue};
    case Errc::kConflict:
      return {409, kDmInvalid};
    case Errc::kMethodNotAllowed:
      return {405, kDmInvalid};
    case Errc::kUnauthorized:
      return {401, kDmUnauthorized};
    case Errc::kForbidden:
      return {403, kDmUnauthorized};
    case Errc::kOverloaded:
      return {429, kDmUnavailable};
    case Errc::kUnavailable:
    case Errc::kOutcomeUnknown:
      return {503, kDmUnavailable};
    case Errc::kInternal:
      return {500, kDmUnavailable};
  }
  return {500, kDmUnavailable};
}

namespace {

http::Response ErrorBody(int status, int dm_error, std::string_view message) {
  boost::json::object body;
  body["dm_error"] = dm_error;
  body["error_msg"] = message;
  return http::Response{status, "application/json", boost::json::serialize(body)};
}

}  // namespace

http::Response MakeErrorResponse(const Error& error) {
  ErrorMapping mapping = MapError(error.code);
  return ErrorBody(mapping.http_status, mapping.dm_error, error.message);
}

http::Response MethodNotAllowedResponse(std::string_view method, std::string_view path,
                                        std::string_view allow) {
  http::Response response = MakeErrorResponse(
      {Errc::kMethodNotAllowed, "method " + std::string(method) + " is not allowed on " +
                                    std::string(path) + "; use " + std::string(allow)});
  response.headers.emplace_back("Allow", std::string(allow));
  return response;
}

http::Response MakeTransportErrorResponse(int http_status, std::string_view message) {
  int dm_error = kDmInvalid;
  if (http_status == 404) dm_error = kDmNotFound;
  if (http_status == 503 || http_status == 429 || http_status >= 500) dm_error = kDmUnavailable;
  return ErrorBody(http_status, dm_error, message);
}

}  // namespace delayq::api
