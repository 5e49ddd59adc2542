#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loadgen {

constexpr int64_t kMaxBatch = 1000;  // the v1 API's largest batch

// The `ids` of a v1 batch answer, {"ids":["384…","384…"],"due_at_ms":[…]}, in order; empty when
// the body is not such an answer.
std::vector<uint64_t> ParseIdArray(std::string_view json);

// One task of a v1 pull answer.
struct PulledTask {
  uint64_t id = 0;
  std::string lease;
  int64_t attempt = 0;
  int64_t due_at_ms = 0;
};

// {"tasks":[{"id":"…","payload":…,"attempt":1,"due_at_ms":…,"lease":"…",…},…]}: split at each
// task's `{"id":` and read the fields of that slice. The payloads our scenarios add are short
// strings holding no field name, so the scan cannot be misled by them. nullopt when the body is
// not a pull answer.
std::optional<std::vector<PulledTask>> ParsePulledTasks(std::string_view json);

// POST /v1/tasks/ID/ack with the task's lease.
std::string AckRequest(std::string_view host, const PulledTask& task);

// One POST /v1/tasks:ack for every task of a pull.
std::string BatchAckRequest(std::string_view host, const std::vector<PulledTask>& tasks);

// How many items of a batch ack answer were applied: {"results":[{"id":…,"state":"done"},…]}.
size_t CountBatchAcked(std::string_view body);

}  // namespace loadgen
