#pragma once

#include <string_view>

namespace delayq::api {

// The route a request path belongs to, as a pattern ("/v1/tasks/{id}"): the `route` label
// of the HTTP metrics and the access log. Label values must come from a small fixed set,
// so raw paths (which carry ids and topic names) never become labels. A path no route
// matches is kUnmatchedRoute. The returned view points to static storage.
inline constexpr std::string_view kUnmatchedRoute = "_other";
std::string_view RoutePattern(std::string_view path);

// The method as a label: the methods the API knows, anything else "_other".
std::string_view MethodLabel(std::string_view method);

}  // namespace delayq::api
