#include "v1.h"

#include "http_connection.h"
#include "json_scan.h"

namespace loadgen {

std::vector<uint64_t> ParseIdArray(std::string_view json) {
  std::vector<uint64_t> ids;
  size_t at = json.find("\"ids\":[");
  if (at == std::string_view::npos) return ids;
  at += 7;
  while (at < json.size() && json[at] == '"') {
    size_t end = json.find('"', at + 1);
    if (end == std::string_view::npos) return {};
    auto id = ParsePositiveDecimal(json.substr(at + 1, end - at - 1));
    if (!id) return {};
    ids.push_back(*id);
    at = end + 1;
    if (at < json.size() && json[at] == ',') ++at;
  }
  if (at >= json.size() || json[at] != ']') return {};
  return ids;
}

std::optional<std::vector<PulledTask>> ParsePulledTasks(std::string_view json) {
  size_t at = json.find("\"tasks\":[");
  if (at == std::string_view::npos) return std::nullopt;
  std::vector<PulledTask> tasks;
  constexpr std::string_view kMarker = "{\"id\":";
  at = json.find(kMarker, at);
  while (at != std::string_view::npos) {
    size_t next = json.find(kMarker, at + kMarker.size());
    std::string_view slice =
        json.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at);
    auto id = RawField(slice, "id");
    auto lease = RawField(slice, "lease");
    auto attempt = IntegerField(slice, "attempt");
    auto due_at_ms = IntegerField(slice, "due_at_ms");
    std::optional<uint64_t> parsed_id = id ? ParsePositiveDecimal(*id) : std::nullopt;
    if (!parsed_id || !lease || lease->empty() || !attempt || !due_at_ms) return std::nullopt;
    tasks.push_back({*parsed_id, std::string(*lease), *attempt, *due_at_ms});
    at = next;
  }
  return tasks;
}

std::string AckRequest(std::string_view host, const PulledTask& task) {
  return PostRequest("/v1/tasks/" + std::to_string(task.id) + "/ack", host,
                     "{\"lease\":\"" + task.lease + "\"}");
}

std::string BatchAckRequest(std::string_view host, const std::vector<PulledTask>& tasks) {
  std::string body = "{\"acks\":[";
  body.reserve(16 + tasks.size() * 60);
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (i) body += ',';
    body += "{\"id\":\"" + std::to_string(tasks[i].id) + "\",\"lease\":\"" + tasks[i].lease + "\"}";
  }
  body += "]}";
  return PostRequest("/v1/tasks:ack", host, body);
}

size_t CountBatchAcked(std::string_view body) {
  size_t count = 0;
  constexpr std::string_view kDone = "\"state\":\"done\"";
  for (size_t at = body.find(kDone); at != std::string_view::npos;
       at = body.find(kDone, at + kDone.size())) {
    ++count;
  }
  return count;
}

}  // namespace loadgen
