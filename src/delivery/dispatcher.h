#pragma once

#include <string>

#include "delivery/http_client.h"
#include "delivery/registry.h"
#include "delivery/sink.h"
#include "engine/callback_sink.h"

namespace delayq::delivery {

// Turns a due callback task into an HTTP call: resolves its target, sets the X-Delayq-*
// headers, signs the body when a key is configured, and reports the outcome. A task whose
// spec names a sink (sink_spec.h) goes to that sink instead.
class Dispatcher final : public engine::CallbackSink {
 public:
  // `signing_key` empty: no signature headers. `sinks` may be null (no sink configured); it
  // must outlive the dispatcher.
  Dispatcher(Registry& registry, HttpClient& client, std::string signing_key,
             const Sinks* sinks = nullptr);

  void Deliver(const Task& task, std::function<void(engine::CallbackOutcome)> done) override;

 private:
  Registry& registry_;
  HttpClient& client_;
  const std::string signing_key_;
  const Sinks* sinks_;
};

}  // namespace delayq::delivery
