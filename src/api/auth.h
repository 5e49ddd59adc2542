#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace delayq::api {

// What a token may do. Admin tokens may do everything; topic tokens only what they list,
// on the topics they list.
struct Principal {
  bool admin = false;
  std::vector<std::string> topics;
  bool publish = false;  // add, cancel, reschedule, redrive
  bool consume = false;  // pull, ack, nack
};

struct TokenGrant {
  std::string token;
  Principal principal;
};

enum class Right {
  kPublish,
  kConsume,
  kRead,   // either right on the topic
  kAdmin,  // cross-topic views: topic list, metrics, readiness
};

// Bearer-token authentication (docs/API.md, "Authentication"). Tokens are kept only as SHA-256
// digests and compared in constant time, so neither memory dumps nor response timing reveal them.
class Authenticator {
 public:
  explicit Authenticator(const std::vector<TokenGrant>& grants);

  // No tokens configured: every call is allowed.
  bool enabled() const { return !entries_.empty(); }

  // `authorization` is the Authorization header. kUnauthorized when missing or unknown.
  Result<const Principal*> Authenticate(std::string_view authorization) const;

  // kForbidden when `who` may not do `right` on `topic` (ignored for kAdmin). `who` null
  // means authentication is off.
  static Result<void> Authorize(const Principal* who, Right right, std::string_view topic);

 private:
  struct Entry {
    std::array<unsigned char, 32> digest;
    Principal principal;
  };
  std::vector<Entry> entries_;
};

}  // namespace delayq::api
