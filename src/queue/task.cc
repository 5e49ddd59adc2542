#include "queue/task.h"

namespace delayq {

bool IsFinished(TaskState state) {
  return state == TaskState::kDone || state == TaskState::kDead || state == TaskState::kCancelled;
}

std::string_view StateName(TaskState state) {
  switch (state) {
    case TaskState::kScheduled:
      return "scheduled";
    case TaskState::kLeased:
      return "leased";
    case TaskState::kDelivering:
      return "delivering";
    case TaskState::kDone:
      return "done";
    case TaskState::kDead:
      return "dead";
    case TaskState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

}  // namespace delayq
