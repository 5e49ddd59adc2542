#include "delivery/dispatcher.h"

#include <strings.h>

#include <chrono>

#include "delivery/signer.h"

namespace delayq::delivery {

namespace {

// A JSON payload (v1 JSON value, or seed content that is a JSON document, as seed
// receivers expect) is sent as application/json; a plain string as text.
bool LooksLikeJson(const Task& task) {
  if (task.payload_is_json) return true;
  size_t first = task.payload.find_first_not_of(" \t\r\n");
  return first != std::string::npos && (task.payload[first] == '{' || task.payload[first] == '[');
}

}  // namespace

Dispatcher::Dispatcher(Registry& registry, HttpClient& client, std::string signing_key,
                       const Sinks* sinks)
    : registry_(registry), client_(client), signing_key_(std::move(signing_key)), sinks_(sinks) {}

void Dispatcher::Deliver(const Task& task, std::function<void(engine::CallbackOutcome)> done) {
  if (IsSinkSpec(task.callback)) {
    auto sink = DecodeSinkSpec(task.callback);
    if (!sink) return done(engine::CallbackOutcome{0, "bad sink spec: " + sink.error().message});
    if (sinks_ == nullptr) {
      return done(engine::CallbackOutcome{0, "no sink is configured on this server"});
    }
    // The engine's outcome speaks HTTP: a stored message counts as a 2xx answer.
    return sinks_->Send(task, *sink, [done = std::move(done)](SinkOutcome outcome) {
      done(engine::CallbackOutcome{outcome.ok() ? 200 : 0, std::move(outcome.error)});
    });
  }
  auto spec = DecodeCallbackSpec(task.callback);
  if (!spec) return done(engine::CallbackOutcome{0, "bad callback spec: " + spec.error().message});
  auto target = registry_.Resolve(*spec);
  if (!target) return done(engine::CallbackOutcome{0, target.error().message});

  HttpCall call;
  call.method = target->method;
  call.url = std::move(target->url);
  call.timeout_ms = target->timeout_ms;
  // Seed: content exactly as given; v1: the payload. GET carries no body.
  if (call.method != "GET") call.body = task.payload;
  bool has_type = false;
  bool traced = !task.traceparent.empty();
  for (auto& [name, value] : target->headers) {
    if (strcasecmp(name.c_str(), "content-type") == 0) has_type = true;
    // The task's own trace context replaces a configured one: it names the request that
    // made this task, which is what the receiver's trace should continue.
    if (traced && (strcasecmp(name.c_str(), "traceparent") == 0 ||
                   strcasecmp(name.c_str(), "tracestate") == 0)) {
      continue;
    }
    call.headers.emplace_back(std::move(name), std::move(value));
  }
  if (!has_type && !call.body.empty()) {
    call.headers.emplace_back(
        "Content-Type", LooksLikeJson(task) ? "application/json" : "text/plain; charset=utf-8");
  }
  call.headers.emplace_back("X-Delayq-Task-Id", std::to_string(task.id));
  call.headers.emplace_back("X-Delayq-Topic", task.topic);
  call.headers.emplace_back("X-Delayq-Attempt", std::to_string(task.attempts));
  call.headers.emplace_back("X-Delayq-Due-At", std::to_string(task.due_at_ms));
  if (traced) {
    call.headers.emplace_back("traceparent", task.traceparent);
    if (!task.tracestate.empty()) call.headers.emplace_back("tracestate", task.tracestate);
  }
  if (!signing_key_.empty()) {
    using namespace std::chrono;
    std::string timestamp =
        std::to_string(duration_cast<seconds>(system_clock::now().time_since_epoch()).count());
    call.headers.emplace_back("X-Delayq-Timestamp", timestamp);
    call.headers.emplace_back("X-Delayq-Signature",
                              SignatureV1(signing_key_, timestamp, call.body));
  }
  client_.Send(std::move(call), [done = std::move(done)](HttpOutcome outcome) {
    engine::CallbackOutcome result;
    result.http_status = outcome.status;
    if (!outcome.error.empty()) {
      result.error = outcome.error;
    } else if (outcome.status < 200 || outcome.status >= 300) {
      result.error = "HTTP " + std::to_string(outcome.status);
      if (!outcome.body_prefix.empty()) result.error += ": " + outcome.body_prefix;
    }
    done(std::move(result));
  });
}

}  // namespace delayq::delivery
