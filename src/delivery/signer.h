#pragma once

#include <string>
#include <string_view>

namespace delayq::delivery {

// X-Delayq-Signature: "v1=" + hex(HMAC-SHA256(key, timestamp + "." + body)). The receiver
// recomputes it with its copy of the key (docs/API.md shows how) and rejects old
// timestamps to stop replays.
std::string SignatureV1(std::string_view key, std::string_view timestamp, std::string_view body);

}  // namespace delayq::delivery
