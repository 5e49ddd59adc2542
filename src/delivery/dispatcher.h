#pragma once

#include <string>

#include "delivery/http_client.h"
#include "delivery/registry.h"
#include "engine/callback_sink.h"

namespace delayq::delivery {

// Turns a due callback task into an HTTP call: resolves its target, sets the X-Delayq-*
// headers, signs the body when a key is configured, and reports the outcome.
class Dispatcher final : public engine::CallbackSink {
 public:
  // `signing_key` empty: no signature headers.
  Dispatcher(Registry& registry, HttpClient& client, std::string signing_key);

  void Deliver(const Task& task, std::function<void(engine::CallbackOutcome)> done) override;

 private:
  Registry& registry_;
  HttpClient& client_;
  const std::string signing_key_;
};

}  // namespace delayq::delivery
