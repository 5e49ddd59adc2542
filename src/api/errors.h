#pragma once

#include <string>
#include <string_view>

#include "common/errc.h"
#include "http/handler.h"

namespace delayq::api {

// The seed API's success message, kept byte for byte ("operation succeeded").
inline constexpr std::string_view kSuccessMessage = "操作成功";

// Seed dm_error codes: the numbers the seed's clients already handle (docs/API.md).
enum DmError : int {
  kDmOk = 0,
  kDmInvalid = 1,
  kDmNotFound = 2,
  kDmNotDue = 3,
  kDmUnauthorized = 4,
  kDmUnavailable = 5,
};

struct ErrorMapping {
  int http_status;
  int dm_error;
};

// The one place that decides how an error category looks to a client.
ErrorMapping MapError(Errc code);

// {"dm_error": N, "error_msg": "..."} with the status that fits.
http::Response MakeErrorResponse(const Error& error);

// 405 with the Allow header (RFC 9110 §15.5.6); `allow` is "GET" or "GET, DELETE".
http::Response MethodNotAllowedResponse(std::string_view method, std::string_view path,
                                        std::string_view allow);

// For errors the transport detects (413, 431, 400, 503...).
http::Response MakeTransportErrorResponse(int http_status, std::string_view message);

}  // namespace delayq::api
