#pragma once

#include <functional>
#include <string>

#include "queue/task.h"

namespace delayq::engine {

struct CallbackOutcome {
  int http_status = 0;  // 0 when no answer came (timeout, refused, DNS, TLS)
  std::string error;    // why it failed; empty on a 2xx answer
  bool ok() const { return http_status >= 200 && http_status < 300 && error.empty(); }
};

// Where the engine hands due callback tasks (implemented in delivery/).
class CallbackSink {
 public:
  virtual ~CallbackSink() = default;
  // Sends the task's callback; `done` runs exactly once, on any thread, and must not block.
  virtual void Deliver(const Task& task, std::function<void(CallbackOutcome)> done) = 0;
};

}  // namespace delayq::engine
