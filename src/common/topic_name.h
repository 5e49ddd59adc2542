#pragma once

#include <cstddef>
#include <string_view>

namespace delayq {

// Topic names: 1-128 characters of [A-Za-z0-9._:-]. Here rather than in queue/ so that the
// command-line client, which may include only common/, checks names by the server's rule.
inline constexpr size_t kMaxTopicLength = 128;
bool IsValidTopic(std::string_view topic);

}  // namespace delayq
