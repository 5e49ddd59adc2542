#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace delayq::http {

struct ListenAddress {
  std::string host;  // IPv4 or IPv6 literal, or "localhost"
  uint16_t port = 0;
};

// "127.0.0.1:7700", "[::1]:7700", "0.0.0.0:0" (0 picks a free port).
Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace delayq::http
