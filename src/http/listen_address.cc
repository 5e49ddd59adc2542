#include "http/listen_address.h"

#include <charconv>

namespace delayq::http {

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return Fail(Errc::kInvalidArgument, "listen: '" + std::string(text) + "' " + std::string(why) +
                                            " (expected HOST:PORT, e.g. 127.0.0.1:7700)");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return invalid("has no port");
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return invalid("has an IPv6 host without brackets");
  }
  if (host.empty()) return invalid("has no host");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || port.empty() || value > 65535) {
    return invalid("has an invalid port");
  }
  return ListenAddress{std::string(host), static_cast<uint16_t>(value)};
}

}  // namespace delayq::http
