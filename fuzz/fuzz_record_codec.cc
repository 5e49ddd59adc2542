// Fuzz target: the stored task record (store/record_codec.h). Any bytes either fail to
// decode or decode to a task that encodes and decodes back to an equal task; a record of
// the current versions re-encodes byte for byte (version 2 for a task without trace context,
// version 3 for one with it).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "queue/task.h"
#include "store/record_codec.h"

namespace {

using namespace delayq;

bool SameTask(const Task& a, const Task& b) {
  return a.id == b.id && a.topic == b.topic && a.due_at_ms == b.due_at_ms &&
         a.created_at_ms == b.created_at_ms && a.payload == b.payload && a.kind == b.kind &&
         a.state == b.state && a.attempts == b.attempts && a.max_attempts == b.max_attempts &&
         a.finished_at_ms == b.finished_at_ms && a.lease_token == b.lease_token &&
         a.lease_until_ms == b.lease_until_ms && a.payload_is_json == b.payload_is_json &&
         a.last_error == b.last_error && a.dedup_key == b.dedup_key && a.callback == b.callback &&
         a.traceparent == b.traceparent && a.tracestate == b.tracestate;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto task = store::DecodeTask(bytes);
  if (!task) {
    FUZZ_CHECK(!task.error().message.empty());
    return 0;
  }
  FUZZ_CHECK(size > 0 && bytes[0] >= 1 && bytes[0] <= store::kRecordVersion);
  std::string encoded = store::EncodeTask(*task);
  auto again = store::DecodeTask(encoded);
  if (!again || !SameTask(*task, *again)) __builtin_trap();  // the round trip must hold
  bool traced = !task->traceparent.empty() || !task->tracestate.empty();
  // A version-3 record with both trace strings empty is written back as version 2.
  if (bytes[0] == store::kUntracedRecordVersion || (bytes[0] == store::kRecordVersion && traced)) {
    FUZZ_CHECK(encoded == bytes);
  }
  return 0;
}
