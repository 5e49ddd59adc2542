#include "api/validate.h"

#include <charconv>
#include <string>

#include "queue/task.h"

namespace delayq::api {

std::optional<TopicDefaults> FindTopicDefaults(const ApiConfig& api_config,
                                               const std::string& topic) {
  if (api_config.live_topics != nullptr) return api_config.live_topics->Find(topic);
  auto it = api_config.topics.find(topic);
  if (it == api_config.topics.end()) return std::nullopt;
  return it->second;
}

Result<TaskId> ParseTaskId(std::string_view text) {
  TaskId id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || id == 0) {
    return Fail(Errc::kInvalidArgument,
                "task id in the path must be a positive decimal number, not '" +
                    std::string(text.substr(0, 64)) + "'");
  }
  return id;
}

Result<void> CheckTopic(std::string_view topic, std::string_view field) {
  if (IsValidTopic(topic)) return {};
  std::string name(field);
  if (topic.empty()) return Fail(Errc::kInvalidArgument, name + " must not be empty");
  if (topic.size() > kMaxTopicLength) {
    return Fail(Errc::kInvalidArgument, name + " is " + std::to_string(topic.size()) +
                                            " characters long; the limit is " +
                                            std::to_string(kMaxTopicLength));
  }
  return Fail(Errc::kInvalidArgument,
              name + " may contain only letters, digits and . _ : - (1-128 characters)");
}

Result<void> CheckPayloadSize(size_t bytes, const ApiConfig& api_config, std::string_view field) {
  if (bytes <= api_config.max_payload_bytes) return {};
  return Fail(Errc::kTooLarge,
              std::string(field) + " is " + std::to_string(bytes) + " bytes; the limit is " +
                  std::to_string(api_config.max_payload_bytes) + " (max_payload_bytes)");
}

Result<int64_t> CheckDueAtMs(int64_t due_at_ms, int64_t now_ms, const ApiConfig& api_config,
                             std::string_view field) {
  std::string name(field);
  if (due_at_ms < 0) {
    return Fail(Errc::kInvalidArgument, name + " must not be negative");
  }
  if (due_at_ms - now_ms > api_config.max_delay_ms) {
    return Fail(Errc::kInvalidArgument, name + " is too far in the future: at most " +
                                            std::to_string(api_config.max_delay_ms / 1000) +
                                            " seconds ahead (max_delay) is accepted");
  }
  return due_at_ms;
}

}  // namespace delayq::api
