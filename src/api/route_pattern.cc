#include "api/route_pattern.h"

#include <array>

namespace delayq::api {

namespace {

// Splits "/a/b/c" into at most 4 segments; more segments than that match no route.
struct Segments {
  std::array<std::string_view, 4> part;
  size_t count = 0;
  bool too_many = false;
};

Segments Split(std::string_view path) {
  Segments out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    size_t slash = path.find('/');
    if (out.count == out.part.size()) {
      out.too_many = true;
      break;
    }
    out.part[out.count++] = path.substr(0, slash);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

}  // namespace

std::string_view RoutePattern(std::string_view path) {
  if (path == "/") return "/";
  if (path == "/delay/task/add") return "/delay/task/add";
  if (path == "/delay/task/pull") return "/delay/task/pull";
  if (path == "/healthz") return "/healthz";
  if (path == "/readyz") return "/readyz";
  if (path == "/metrics") return "/metrics";
  // The dashboard's static files (index at "/", assets under /ui/) and its lateness series.
  if (path.starts_with("/ui/")) return "/ui/{file}";
  if (path == "/v1/stats/lateness") return "/v1/stats/lateness";
  if (path == "/v1/stats/sinks") return "/v1/stats/sinks";
  if (!path.starts_with("/v1/")) return kUnmatchedRoute;
  Segments s = Split(path.substr(4));
  if (s.too_many || s.count == 0) return kUnmatchedRoute;
  std::string_view head = s.part[0];
  if (head == "topics") {
    if (s.count == 1) return "/v1/topics";
    if (s.count == 2) return "/v1/topics/{topic}";
    if (s.count == 3) {
      std::string_view leaf = s.part[2];
      if (leaf == "tasks") return "/v1/topics/{topic}/tasks";
      if (leaf == "tasks:batch") return "/v1/topics/{topic}/tasks:batch";
      if (leaf == "pull") return "/v1/topics/{topic}/pull";
      if (leaf == "dead") return "/v1/topics/{topic}/dead";
    }
    return kUnmatchedRoute;
  }
  if (head == "tasks") {
    if (s.count == 2) return "/v1/tasks/{id}";
    if (s.count == 3) {
      std::string_view action = s.part[2];
      if (action == "ack") return "/v1/tasks/{id}/ack";
      if (action == "nack") return "/v1/tasks/{id}/nack";
      if (action == "extend") return "/v1/tasks/{id}/extend";
      if (action == "reschedule") return "/v1/tasks/{id}/reschedule";
      if (action == "redrive") return "/v1/tasks/{id}/redrive";
    }
  }
  if (head == "schedules") {
    if (s.count == 1) return "/v1/schedules";
    if (s.count == 2) return "/v1/schedules/{name}";
    if (s.count == 3) {
      std::string_view action = s.part[2];
      if (action == "pause") return "/v1/schedules/{name}/pause";
      if (action == "resume") return "/v1/schedules/{name}/resume";
      if (action == "trigger") return "/v1/schedules/{name}/trigger";
    }
  }
  return kUnmatchedRoute;
}

std::string_view MethodLabel(std::string_view method) {
  for (std::string_view known : {"GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"}) {
    if (method == known) return known;
  }
  return "_other";
}

}  // namespace delayq::api
