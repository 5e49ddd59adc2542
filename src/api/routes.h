#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "api/auth.h"
#include "common/result.h"

namespace delayq::api {

// What a route does; Router::Dispatch calls the handler for each.
enum class Endpoint {
  kDashboard,  // the page and its files (dashboard.cc; it checks its own methods)
  kSeedAdd,
  kSeedPull,
  kHealthz,
  kReadyz,
  kMetrics,
  kLateness,
  kSinks,
  kRates,  // GET /v1/stats/rates (v1_dead_bulk.cc)
  kTopics,
  kTopic,
  kAddTask,
  kAddBatch,
  kPull,
  kDead,
  kDeadRedrive,  // POST /v1/topics/{topic}/dead:redrive (v1_dead_bulk.cc)
  kDeadDelete,   // POST /v1/topics/{topic}/dead:delete
  kPauseTopic,
  kResumeTopic,
  kGetTask,
  kCancel,
  kAck,
  kNack,
  kAckBatch,   // POST /v1/tasks:ack (v1_lease_batch.cc)
  kNackBatch,  // POST /v1/tasks:nack
  kExtend,
  kReschedule,
  kRedrive,
  kSchedules,  // every /v1/schedules route (v1_schedules.cc)
  kListTasks,  // GET /v1/topics/{topic}/tasks (v1_listing.cc)
  kTopicHorizon,
  kHorizon,
};

// Whose permission a route needs, checked with its `right`.
enum class Scope {
  kNone,    // none here: the probe, the dashboard's files, the seed API (checks in its handlers)
  kServer,  // the right on no topic (cross-topic views: Right::kAdmin)
  kTopic,   // the right on the topic in the path
  kTask,    // the right on the task's topic, checked before the method: a topic token learns
            // nothing of another topic's task, not even which methods its path answers
};

// One route: a method on a path pattern. A "{name}" segment matches any one segment;
// "/ui/{file}" matches any path under /ui/. The pattern is also the `route` label of the HTTP
// metrics and the access log, so labels come from this fixed set, never from raw paths.
struct Route {
  std::string_view method;
  std::string_view pattern;
  Endpoint endpoint;
  Scope scope;
  Right right;
};

// Every route of the server, in one table (routes.cc); docs/API.md lists the same.
std::span<const Route> Routes();

// A path matched against the table. `routes` are the rows whose pattern matches (one per
// method answered); `topic` and `id` are the segments the {topic} and {id} placeholders
// matched. `invalid` is set when a placeholder's segment is not a valid topic or task id
// while the path agrees with a pattern up to it: that error is the answer (400), whatever
// follows in the path.
struct RouteMatch {
  std::span<const Route> routes;  // empty: no route
  std::string_view topic;
  std::string_view id;
  std::optional<Error> invalid;

  const Route* For(std::string_view method) const;
  std::string Allow() const;  // "GET, DELETE": the methods answered, for a 405
};
RouteMatch MatchRoute(std::string_view path);

// The route label of a path: its pattern, or kUnmatchedRoute. The view points to static
// storage.
inline constexpr std::string_view kUnmatchedRoute = "_other";
std::string_view RoutePattern(std::string_view path);

// The method as a label: the methods the API knows, anything else "_other".
std::string_view MethodLabel(std::string_view method);

}  // namespace delayq::api
