// Fuzz target: the seed API's request decoding (api/seed_api.h), the input being the body.
// DecodeSeedAdd runs twice: without a registry (seed v1: callbacks refused) and with one
// that has a service and an allow-list (seed v2: content {"url", "sn"} makes a callback).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/seed_api.h"
#include "delivery/callback_spec.h"
#include "delivery/registry.h"
#include "fuzz_check.h"
#include "queue/task.h"

namespace {

using namespace delayq;

constexpr int64_t kNow = 1'800'000'000'000;

const api::ApiConfig& CallbackConfig() {
  static const delivery::Registry registry({{"other.server", {"http://127.0.0.1:9"}}},
                                           {"127.0.0.1", "*.corp", "10.0.0.0/8"}, 10'000);
  static const api::ApiConfig config = [] {
    api::ApiConfig c;
    c.registry = &registry;
    return c;
  }();
  return config;
}

void CheckAdd(const api::SeedAdd& add, const api::ApiConfig& config) {
  FUZZ_CHECK(IsValidTopic(add.topic));
  FUZZ_CHECK(add.due_at_ms >= 0 && add.due_at_ms % 1000 == 0);
  FUZZ_CHECK(add.due_at_ms - kNow <= config.max_delay_ms);
  FUZZ_CHECK(add.content.size() <= config.max_payload_bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);

  auto plain = api::DecodeSeedAdd(body, api::ApiConfig{}, kNow);
  auto v2 = api::DecodeSeedAdd(body, CallbackConfig(), kNow);
  if (plain) {
    CheckAdd(*plain, api::ApiConfig{});
    FUZZ_CHECK(plain->callback_json.empty());  // no registry: never a callback task
    // Whatever decodes without a registry decodes the same with one.
    FUZZ_CHECK(v2);
    FUZZ_CHECK(v2->topic == plain->topic && v2->due_at_ms == plain->due_at_ms &&
               v2->content == plain->content && v2->callback_json.empty());
  }
  if (v2) {
    CheckAdd(*v2, CallbackConfig());
    if (!v2->callback_json.empty()) {
      // The stored spec is canonical: it decodes, passes the registry, re-encodes as is.
      auto spec = delivery::DecodeCallbackSpec(v2->callback_json);
      FUZZ_CHECK(spec);
      FUZZ_CHECK(CallbackConfig().registry->Check(*spec, "content.url"));
      FUZZ_CHECK(delivery::EncodeCallbackSpec(*spec) == v2->callback_json);
    }
  }

  auto pull = api::DecodeSeedPull(body);
  if (pull) {
    FUZZ_CHECK(IsValidTopic(pull->topic));
    FUZZ_CHECK(!pull->task_id || *pull->task_id != 0);  // 0 means "not given"
  }
  return 0;
}
