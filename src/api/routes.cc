#include "api/routes.h"

#include <array>
#include <vector>

#include "api/validate.h"

namespace delayq::api {

namespace {

using enum Endpoint;
constexpr Right kAny = Right::kAdmin;  // rows whose scope checks nothing

// Rows of one pattern are adjacent; their order is the order of the Allow header.
constexpr std::array kRoutes = {
    Route{"GET", "/", kDashboard, Scope::kNone, kAny},
    Route{"GET", "/ui/{file}", kDashboard, Scope::kNone, kAny},
    Route{"POST", "/delay/task/add", kSeedAdd, Scope::kNone, kAny},
    Route{"POST", "/delay/task/pull", kSeedPull, Scope::kNone, kAny},
    Route{"GET", "/healthz", kHealthz, Scope::kNone, kAny},
    Route{"GET", "/readyz", kReadyz, Scope::kServer, Right::kAdmin},
    Route{"GET", "/metrics", kMetrics, Scope::kServer, Right::kAdmin},
    Route{"GET", "/v1/stats/lateness", kLateness, Scope::kServer, Right::kAdmin},
    Route{"GET", "/v1/stats/sinks", kSinks, Scope::kServer, Right::kAdmin},
    Route{"GET", "/v1/horizon", kHorizon, Scope::kServer, Right::kAdmin},
    Route{"GET", "/v1/stats/rates", kRates, Scope::kServer, Right::kAdmin},
    Route{"GET", "/v1/topics", kTopics, Scope::kServer, Right::kAdmin},
    Route{"GET", "/v1/topics/{topic}", kTopic, Scope::kTopic, Right::kRead},
    Route{"POST", "/v1/topics/{topic}/tasks", kAddTask, Scope::kTopic, Right::kPublish},
    Route{"GET", "/v1/topics/{topic}/tasks", kListTasks, Scope::kTopic, Right::kRead},
    Route{"POST", "/v1/topics/{topic}/tasks:batch", kAddBatch, Scope::kTopic, Right::kPublish},
    Route{"POST", "/v1/topics/{topic}/pull", kPull, Scope::kTopic, Right::kConsume},
    Route{"GET", "/v1/topics/{topic}/dead", kDead, Scope::kTopic, Right::kRead},
    Route{"GET", "/v1/topics/{topic}/horizon", kTopicHorizon, Scope::kTopic, Right::kRead},
    // As the single redrive (and cancel): what the topic's publishers may do to its tasks.
    Route{"POST", "/v1/topics/{topic}/dead:redrive", kDeadRedrive, Scope::kTopic, Right::kPublish},
    Route{"POST", "/v1/topics/{topic}/dead:delete", kDeadDelete, Scope::kTopic, Right::kPublish},
    // Pausing stops what the topic's publishers asked for, as pausing its schedules does.
    Route{"POST", "/v1/topics/{topic}/pause", kPauseTopic, Scope::kTopic, Right::kPublish},
    Route{"POST", "/v1/topics/{topic}/resume", kResumeTopic, Scope::kTopic, Right::kPublish},
    // Batch acknowledgements check the consume right on each item's task, in their handler.
    Route{"POST", "/v1/tasks:ack", kAckBatch, Scope::kNone, kAny},
    Route{"POST", "/v1/tasks:nack", kNackBatch, Scope::kNone, kAny},
    // A method a task route does not answer is authorized as the pattern's last row.
    Route{"GET", "/v1/tasks/{id}", kGetTask, Scope::kTask, Right::kRead},
    Route{"DELETE", "/v1/tasks/{id}", kCancel, Scope::kTask, Right::kPublish},
    Route{"POST", "/v1/tasks/{id}/ack", kAck, Scope::kTask, Right::kConsume},
    Route{"POST", "/v1/tasks/{id}/nack", kNack, Scope::kTask, Right::kConsume},
    Route{"POST", "/v1/tasks/{id}/extend", kExtend, Scope::kTask, Right::kConsume},
    Route{"POST", "/v1/tasks/{id}/reschedule", kReschedule, Scope::kTask, Right::kPublish},
    Route{"POST", "/v1/tasks/{id}/redrive", kRedrive, Scope::kTask, Right::kPublish},
    // Schedules check their rights in their handler: on the body's topic (PUT) or the stored
    // schedule's.
    Route{"GET", "/v1/schedules", kSchedules, Scope::kNone, kAny},
    Route{"GET", "/v1/schedules/{name}", kSchedules, Scope::kNone, kAny},
    Route{"PUT", "/v1/schedules/{name}", kSchedules, Scope::kNone, kAny},
    Route{"DELETE", "/v1/schedules/{name}", kSchedules, Scope::kNone, kAny},
    Route{"POST", "/v1/schedules/{name}/pause", kSchedules, Scope::kNone, kAny},
    Route{"POST", "/v1/schedules/{name}/resume", kSchedules, Scope::kNone, kAny},
    Route{"POST", "/v1/schedules/{name}/trigger", kSchedules, Scope::kNone, kAny},
};

// "/a/b/c" -> {a, b, c}, empty segments kept ("/a//b/" is {a, "", b, ""}); "/" has none. A
// path not starting with '/' matches nothing.
std::optional<std::vector<std::string_view>> Segments(std::string_view path) {
  if (!path.starts_with('/')) return std::nullopt;
  path.remove_prefix(1);
  std::vector<std::string_view> out;
  if (path.empty()) return out;
  while (true) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// The v1 resources (/v1/topics..., /v1/tasks...) ignore one trailing slash, as the v1 API
// always has ("/v1/topics/" lists the topics); every other path matches exactly.
bool IgnoresTrailingSlash(std::string_view pattern) {
  return pattern.starts_with("/v1/topics") || pattern.starts_with("/v1/tasks") ||
         pattern.starts_with("/v1/schedules");
}

bool IsPlaceholder(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Whether `path` matches `pattern`; fills the captures.
bool Matches(const std::vector<std::string_view>& pattern,
             const std::vector<std::string_view>& path, RouteMatch& out) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (i >= path.size()) return false;
    if (pattern[i] == "{topic}") {
      out.topic = path[i];
    } else if (pattern[i] == "{id}") {
      out.id = path[i];
    } else if (IsPlaceholder(pattern[i])) {
      // {name}: any segment; its handler checks it
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return pattern.size() == path.size();
}

// The first placeholder error on the way to any pattern the path agrees with up to it.
std::optional<Error> InvalidPlaceholder(const std::vector<std::string_view>& pattern,
                                        const std::vector<std::string_view>& path) {
  for (size_t i = 0; i < pattern.size() && i < path.size(); ++i) {
    if (pattern[i] == "{topic}") {
      if (auto ok = CheckTopic(path[i], "topic in the path"); !ok) return ok.error();
    } else if (pattern[i] == "{id}") {
      if (auto ok = ParseTaskId(path[i]); !ok) return ok.error();
    } else if (!IsPlaceholder(pattern[i]) && pattern[i] != path[i]) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

// Each pattern's segments, split once.
const std::vector<std::vector<std::string_view>>& PatternSegments() {
  static const auto* segments = [] {
    auto* out = new std::vector<std::vector<std::string_view>>;
    for (const Route& route : kRoutes) out->push_back(*Segments(route.pattern));
    return out;
  }();
  return *segments;
}

}  // namespace

std::span<const Route> Routes() { return kRoutes; }

const Route* RouteMatch::For(std::string_view method) const {
  for (const Route& route : routes) {
    if (route.method == method) return &route;
  }
  return nullptr;
}

std::string RouteMatch::Allow() const {
  std::string allow;
  for (const Route& route : routes)
    allow += (allow.empty() ? "" : ", ") + std::string(route.method);
  return allow;
}

RouteMatch MatchRoute(std::string_view path) {
  RouteMatch match;
  auto exact = Segments(path);
  if (!exact) return match;
  std::vector<std::string_view> trimmed = *exact;
  if (!trimmed.empty() && trimmed.back().empty()) trimmed.pop_back();
  for (size_t i = 0; i < kRoutes.size(); ++i) {
    const auto& pattern = PatternSegments()[i];
    const auto& segments = IgnoresTrailingSlash(kRoutes[i].pattern) ? trimmed : *exact;
    if (!match.invalid) match.invalid = InvalidPlaceholder(pattern, segments);
    RouteMatch candidate;
    std::string_view files = kRoutes[i].pattern;
    if (files.ends_with("{file}")) {
      // Any path under the folder, "/ui/" itself included (the dashboard answers 404 for a
      // file it does not have).
      files.remove_suffix(std::string_view("{file}").size());
      if (!path.starts_with(files)) continue;
    } else if (!Matches(pattern, segments, candidate)) {
      continue;
    }
    size_t end = i;
    while (end < kRoutes.size() && kRoutes[end].pattern == kRoutes[i].pattern) ++end;
    match.routes = std::span<const Route>(kRoutes).subspan(i, end - i);
    match.topic = candidate.topic;
    match.id = candidate.id;
    return match;
  }
  return match;
}

std::string_view RoutePattern(std::string_view path) {
  RouteMatch match = MatchRoute(path);
  return match.routes.empty() ? kUnmatchedRoute : match.routes.front().pattern;
}

std::string_view MethodLabel(std::string_view method) {
  for (std::string_view known : {"GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"}) {
    if (method == known) return known;
  }
  return "_other";
}

}  // namespace delayq::api
