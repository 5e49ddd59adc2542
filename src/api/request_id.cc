#include "api/request_id.h"

#include <fmt/format.h>

#include <random>

namespace delayq::api {

namespace {

bool Acceptable(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '/' || c == '+' || c == '=' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string RequestIdFor(std::string_view given) {
  if (Acceptable(given)) return std::string(given);
  // One generator per I/O thread: no lock on the request path. 64 random bits make a
  // collision within any log retention window negligible.
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return fmt::format("{:016x}", generator());
}

}  // namespace delayq::api
