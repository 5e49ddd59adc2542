// What a Redis command is, apart from any connection: URLs and addresses, the key slot, the
// scripts (EVALSHA with the source kept for NOSCRIPT) and which commands only read.
#include <openssl/sha.h>

#include <set>

#include "store/redis_client.h"
#include "store/redis_client_impl.h"

namespace delayq::store {

using redis_detail::kSlotCount;
using redis_detail::ParseInt;
using redis_detail::StartsWith;

namespace {

Error UrlError(std::string_view url, std::string_view what) {
  return Error{Errc::kInvalidArgument,
               "redis.url '" + std::string(url) + "': " + std::string(what) +
                   " (expected redis://[[user]:password@]host[:port][/db])"};
}

}  // namespace

bool IsReadOnly(const RedisCommand& command) {
  static const std::set<std::string, std::less<>> kReads = {
      "GET",    "HGET",        "HGETALL",  "HMGET", "ZRANGE", "ZRANGEBYSCORE",
      "ZCOUNT", "ZRANGEBYLEX", "SMEMBERS", "SSCAN", "EXISTS", "PING",
      "ROLE",   "CLUSTER",     "INFO",     "ZCARD", "HLEN",   "SCARD"};
  return command.script == nullptr && !command.args.empty() && kReads.contains(command.args[0]);
}

Result<RedisAddress> ParseRedisAddress(std::string_view text, std::string_view field) {
  size_t colon = text.rfind(':');
  RedisAddress out;
  if (colon == std::string_view::npos || colon == 0 ||
      !ParseInt(text.substr(colon + 1), out.port) || out.port <= 0 || out.port > 65535) {
    return Fail(Errc::kInvalidArgument, std::string(field) + ": '" + std::string(text) +
                                            "' is not host:port (for example 127.0.0.1:26379)");
  }
  out.host = std::string(text.substr(0, colon));
  return out;
}

Result<RedisUrl> ParseRedisUrl(std::string_view url) {
  RedisUrl out;
  std::string_view rest = url;
  if (StartsWith(rest, "rediss://")) {
    return std::unexpected(
        UrlError(url, "TLS (rediss://) is not supported by this build's hiredis 0.14"));
  }
  if (!StartsWith(rest, "redis://"))
    return std::unexpected(UrlError(url, "must start with redis://"));
  rest.remove_prefix(8);
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view credentials = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    size_t colon = credentials.find(':');
    if (colon == std::string_view::npos) {
      out.password = std::string(credentials);
    } else {
      out.user = std::string(credentials.substr(0, colon));
      out.password = std::string(credentials.substr(colon + 1));
    }
  }
  size_t slash = rest.find('/');
  std::string_view address = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!ParseInt(db, out.db) || out.db < 0)) {
      return std::unexpected(UrlError(url, "the database after '/' must be a number >= 0"));
    }
  }
  size_t colon = address.rfind(':');
  if (colon != std::string_view::npos && address.find(']') == std::string_view::npos) {
    if (!ParseInt(address.substr(colon + 1), out.port) || out.port <= 0 || out.port > 65535) {
      return std::unexpected(UrlError(url, "the port must be a number from 1 to 65535"));
    }
    address = address.substr(0, colon);
  }
  if (address.empty()) return std::unexpected(UrlError(url, "the host is missing"));
  out.host = std::string(address);
  return out;
}

uint16_t RedisKeySlot(std::string_view key) {
  size_t open = key.find('{');
  if (open != std::string_view::npos) {
    size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  // CRC16-CCITT (XModem), the variant the Redis Cluster specification names.
  uint16_t crc = 0;
  for (unsigned char byte : key) {
    crc ^= static_cast<uint16_t>(byte) << 8;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc % kSlotCount;
}

RedisScript::RedisScript(std::string text) : source(std::move(text)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source.data()), source.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char byte : digest) {
    sha1.push_back(kHex[byte >> 4]);
    sha1.push_back(kHex[byte & 15]);
  }
}

RedisCommand ScriptCommand(const RedisScript& script, std::vector<std::string> keys,
                           std::vector<std::string> args) {
  RedisCommand command;
  command.args.reserve(3 + keys.size() + args.size());
  command.script = &script;
  command.args.push_back("EVALSHA");
  command.args.push_back(script.sha1);
  command.args.push_back(std::to_string(keys.size()));
  if (!keys.empty()) command.route_key = keys.front();
  for (auto& key : keys) command.args.push_back(std::move(key));
  for (auto& arg : args) command.args.push_back(std::move(arg));
  return command;
}

}  // namespace delayq::store
