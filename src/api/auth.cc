#include "api/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>

namespace delayq::api {
namespace {

std::array<unsigned char, 32> Digest(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

}  // namespace

Authenticator::Authenticator(const std::vector<TokenGrant>& grants) {
  for (const TokenGrant& grant : grants) entries_.push_back({Digest(grant.token), grant.principal});
}

Result<const Principal*> Authenticator::Authenticate(std::string_view authorization) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), authorization.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return Fail(Errc::kUnauthorized,
                "missing bearer token: send the header Authorization: Bearer <token>");
  }
  auto presented = Digest(authorization.substr(kBearer.size()));
  const Principal* match = nullptr;
  // Compare against every entry, whatever matches, so that timing tells nothing.
  for (const Entry& entry : entries_) {
    if (CRYPTO_memcmp(entry.digest.data(), presented.data(), presented.size()) == 0) {
      match = &entry.principal;
    }
  }
  if (match == nullptr) return Fail(Errc::kUnauthorized, "unknown bearer token");
  return match;
}

Result<void> Authenticator::Authorize(const Principal* who, Right right, std::string_view topic) {
  if (who == nullptr || who->admin) return {};
  if (right == Right::kAdmin) {
    return Fail(Errc::kForbidden,
                "this token is limited to topics; this call needs an admin token");
  }
  bool on_topic = std::find(who->topics.begin(), who->topics.end(), topic) != who->topics.end();
  bool allowed = on_topic && ((right == Right::kPublish && who->publish) ||
                              (right == Right::kConsume && who->consume) ||
                              (right == Right::kRead && (who->publish || who->consume)));
  if (allowed) return {};
  std::string verb = right == Right::kPublish   ? "publish to"
                     : right == Right::kConsume ? "consume from"
                                                : "read";
  return Fail(Errc::kForbidden,
              "this token may not " + verb + " topic '" + std::string(topic) + "'");
}

}  // namespace delayq::api
