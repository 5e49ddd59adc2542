#include "store/record_codec.h"

#include <cstring>

namespace delayq::store {
namespace {

template <class T>
void PutFixed(std::string* out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // x86-64 and arm64 are little-endian
  out->append(bytes, sizeof(T));
}

void PutString(std::string* out, std::string_view s) {
  PutFixed<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  template <class T>
  bool Fixed(T* value) {
    if (rest_.size() < sizeof(T)) return false;
    std::memcpy(value, rest_.data(), sizeof(T));
    rest_.remove_prefix(sizeof(T));
    return true;
  }

  bool String(std::string* value) {
    uint32_t size = 0;
    if (!Fixed(&size) || rest_.size() < size) return false;
    value->assign(rest_.data(), size);
    rest_.remove_prefix(size);
    return true;
  }

  bool done() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

}  // namespace

std::string EncodeTask(const Task& task) {
  std::string out;
  out.reserve(64 + task.topic.size() + task.payload.size() + task.last_error.size() +
              task.dedup_key.size() + task.callback.size() + task.traceparent.size() +
              task.tracestate.size());
  bool traced = !task.traceparent.empty() || !task.tracestate.empty();
  PutFixed<uint8_t>(&out, traced ? kRecordVersion : kUntracedRecordVersion);
  PutFixed<uint64_t>(&out, task.id);
  PutFixed<int64_t>(&out, task.due_at_ms);
  PutFixed<int64_t>(&out, task.created_at_ms);
  PutFixed<int64_t>(&out, task.finished_at_ms);
  PutFixed<uint8_t>(&out, static_cast<uint8_t>(task.kind));
  PutFixed<uint8_t>(&out, static_cast<uint8_t>(task.state));
  PutFixed<uint32_t>(&out, task.attempts);
  PutFixed<uint32_t>(&out, task.max_attempts);
  PutString(&out, task.topic);
  PutString(&out, task.payload);
  PutString(&out, task.last_error);
  PutString(&out, task.dedup_key);
  PutString(&out, task.callback);
  PutFixed<uint64_t>(&out, task.lease_token);
  PutFixed<int64_t>(&out, task.lease_until_ms);
  PutFixed<uint8_t>(&out, task.payload_is_json ? 1 : 0);
  if (traced) {
    PutString(&out, task.traceparent);
    PutString(&out, task.tracestate);
  }
  return out;
}

Result<Task> DecodeTask(std::string_view bytes) {
  Reader in(bytes);
  uint8_t version = 0;
  if (!in.Fixed(&version)) return Fail(Errc::kInternal, "task record is empty");
  if (version < 1 || version > kRecordVersion) {
    return Fail(Errc::kInternal, "task record has unknown version " + std::to_string(version));
  }
  Task task;
  uint8_t kind = 0;
  uint8_t state = 0;
  bool ok = in.Fixed(&task.id) && in.Fixed(&task.due_at_ms) && in.Fixed(&task.created_at_ms) &&
            in.Fixed(&task.finished_at_ms) && in.Fixed(&kind) && in.Fixed(&state) &&
            in.Fixed(&task.attempts) && in.Fixed(&task.max_attempts) && in.String(&task.topic) &&
            in.String(&task.payload) && in.String(&task.last_error) && in.String(&task.dedup_key) &&
            in.String(&task.callback);
  uint8_t payload_is_json = 0;
  if (ok && version >= 2) {
    ok = in.Fixed(&task.lease_token) && in.Fixed(&task.lease_until_ms) &&
         in.Fixed(&payload_is_json) && payload_is_json <= 1;
    task.payload_is_json = payload_is_json == 1;
  }
  if (ok && version >= 3) ok = in.String(&task.traceparent) && in.String(&task.tracestate);
  if (!ok) return Fail(Errc::kInternal, "task record is truncated");
  if (!in.done()) return Fail(Errc::kInternal, "task record has trailing bytes");
  if (kind > static_cast<uint8_t>(DeliveryKind::kCallback)) {
    return Fail(Errc::kInternal, "task record has unknown delivery kind");
  }
  if (state > static_cast<uint8_t>(TaskState::kCancelled)) {
    return Fail(Errc::kInternal, "task record has unknown state");
  }
  task.kind = static_cast<DeliveryKind>(kind);
  task.state = static_cast<TaskState>(state);
  return task;
}

}  // namespace delayq::store
