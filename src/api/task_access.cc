#include "api/task_access.h"

#include <algorithm>

#include "queue/transitions.h"

namespace delayq::api {

Result<Task> TaskForCaller(engine::Engine& engine, const Principal* who, Right right, TaskId id) {
  auto found = engine.Get(id);
  if (!found) return found;
  if (who != nullptr && !who->admin &&
      std::find(who->topics.begin(), who->topics.end(), found->topic) == who->topics.end()) {
    return std::unexpected(TaskNotFound(id));
  }
  if (auto ok = Authenticator::Authorize(who, right, found->topic); !ok) {
    return std::unexpected(ok.error());
  }
  return found;
}

}  // namespace delayq::api
