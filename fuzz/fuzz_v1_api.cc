// Fuzz target: the v1 API's task decoding and the parsers it is built on, the input being
// a request body (or a time, a callback object, a URL: each parser gets the raw input).
//   api::ParseBodyObject -> api::DecodeV1Task and api::DecodeDueTime (api/v1_api.h), with
//     and without a callback registry, with and without a batch prefix;
//   api::ParseRfc3339Ms (api/time_format.h);
//   delivery::ParseCallbackObject and delivery::ParseHttpUrl (delivery/callback_spec.h).

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/json_fields.h"
#include "api/time_format.h"
#include "api/v1_api.h"
#include "delivery/callback_spec.h"
#include "delivery/registry.h"
#include "fuzz_check.h"
#include "queue/task.h"

namespace {

using namespace delayq;
namespace json = boost::json;

constexpr int64_t kNow = 1'800'000'000'000;
constexpr std::string_view kTopic = "orders";

const delivery::Registry& TheRegistry() {
  static const delivery::Registry registry({{"other.server", {"http://127.0.0.1:9"}}},
                                           {"127.0.0.1", "*.corp", "10.0.0.0/8"}, 10'000);
  return registry;
}

// A registry, and topic defaults for kTopic (a default callback and max_attempts).
const api::ApiConfig& CallbackConfig() {
  static const api::ApiConfig config = [] {
    api::ApiConfig c;
    c.registry = &TheRegistry();
    c.topics[std::string(kTopic)] = {5, R"({"service":"other.server","path":"/default"})", ""};
    return c;
  }();
  return config;
}

bool SameSpec(const delivery::CallbackSpec& a, const delivery::CallbackSpec& b) {
  return a.url == b.url && a.service == b.service && a.path == b.path && a.method == b.method &&
         a.headers == b.headers && a.timeout_ms == b.timeout_ms;
}

// A callback spec as stored: decodes, and re-encodes to the same text.
void CheckStoredSpec(const std::string& stored) {
  auto spec = delivery::DecodeCallbackSpec(stored);
  FUZZ_CHECK(spec);
  FUZZ_CHECK(delivery::EncodeCallbackSpec(*spec) == stored);
}

void CheckTask(const json::object& body, const api::ApiConfig& config, std::string_view prefix) {
  auto task = api::DecodeV1Task(kTopic, body, config, kNow, prefix);
  auto due = api::DecodeDueTime(body, config, kNow, prefix);
  if (!task) {
    FUZZ_CHECK(task.error().code == Errc::kInvalidArgument || task.error().code == Errc::kTooLarge);
    FUZZ_CHECK(!task.error().message.empty());
    return;
  }
  FUZZ_CHECK(task->topic == kTopic);
  FUZZ_CHECK(due && *due == task->due_at_ms);
  FUZZ_CHECK(task->due_at_ms >= 0 && task->due_at_ms - kNow <= config.max_delay_ms);
  FUZZ_CHECK(task->payload.size() <= config.max_payload_bytes);
  FUZZ_CHECK(task->max_attempts <= api::ApiConfig::kMaxAttempts);
  FUZZ_CHECK(task->dedup_key.size() <= api::ApiConfig::kMaxDedupKeyBytes);
  if (task->payload_is_json) {
    boost::system::error_code ec;
    json::parse(task->payload, ec);
    FUZZ_CHECK(!ec);
  }
  if (task->kind == DeliveryKind::kCallback) {
    FUZZ_CHECK(config.registry != nullptr);
    CheckStoredSpec(task->callback);
  } else {
    FUZZ_CHECK(task->callback.empty());
  }
}

void CheckUrl(std::string_view text) {
  auto url = delivery::ParseHttpUrl(text, "url");
  if (!url) return;
  FUZZ_CHECK(url->scheme == "http" || url->scheme == "https");
  FUZZ_CHECK(!url->host.empty() && url->port != 0);
  FUZZ_CHECK(!url->target.empty() && url->target.front() == '/');
  // Printed back in canonical form, it parses to the same parts.
  std::string host = url->host.find(':') == std::string::npos ? url->host : "[" + url->host + "]";
  std::string again = url->scheme + "://" + host + ":" + std::to_string(url->port) + url->target;
  if (again.size() > 2048) return;  // the canonical form may be longer than the input
  auto reparsed = delivery::ParseHttpUrl(again, "url");
  FUZZ_CHECK(reparsed);
  FUZZ_CHECK(reparsed->scheme == url->scheme && reparsed->host == url->host &&
             reparsed->port == url->port && reparsed->target == url->target);
}

void CheckCallbackObject(std::string_view text) {
  auto spec = delivery::ParseCallbackObject(text, "callback");
  if (!spec) return;
  FUZZ_CHECK(!spec->url.empty() != !spec->service.empty());
  auto again = delivery::DecodeCallbackSpec(delivery::EncodeCallbackSpec(*spec));
  FUZZ_CHECK(again);
  FUZZ_CHECK(SameSpec(*spec, *again));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  auto body = api::ParseBodyObject(input, "payload and delay_ms, at_ms or at");
  if (body) {
    CheckTask(*body, api::ApiConfig{}, "");
    CheckTask(*body, CallbackConfig(), "");
    CheckTask(*body, CallbackConfig(), "tasks[3].");
  }

  if (auto ms = api::ParseRfc3339Ms(input); ms) {
    // Years 0000-9999, offsets up to 23:59, a leap second.
    FUZZ_CHECK(*ms >= -62'167'219'200'000 - 86'400'000 && *ms <= 253'402'300'800'000 + 86'400'000);
  }
  CheckCallbackObject(input);
  CheckUrl(input);
  return 0;
}
