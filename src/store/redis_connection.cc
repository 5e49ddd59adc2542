// One hiredis connection: open it, authenticate, run a command, convert its reply; and the
// classification of the error texts Redis answers with.
#include <hiredis/hiredis.h>
#include <poll.h>

#include <charconv>
#include <chrono>

#include "store/redis_client_impl.h"

namespace delayq::store::redis_detail {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

timeval Millis(int ms) { return timeval{ms / 1000, (ms % 1000) * 1000}; }

bool TimedOut(const char* why) {
  std::string_view text(why);
  return text.find("temporarily unavailable") != std::string_view::npos ||
         text.find("timed out") != std::string_view::npos;
}

bool ParseInt(std::string_view text, int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

RedisReply Convert(const redisReply* reply) {
  RedisReply out;
  switch (reply->type) {
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = reply->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i)
        out.elements.push_back(Convert(reply->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" -> host, port.
bool ParseRedirect(const std::string& error, std::string& host, int& port) {
  size_t space = error.rfind(' ');
  if (space == std::string::npos) return false;
  std::string_view address(error.c_str() + space + 1);
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  host = std::string(address.substr(0, colon));
  return ParseInt(address.substr(colon + 1), port);
}

// One blocking command on a context of its own (set-up, probes, topology reads).
Result<RedisReply> RunOn(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  if (reply == nullptr) {
    return Fail(Errc::kUnavailable, context->errstr[0] ? context->errstr : "connection lost");
  }
  RedisReply out = Convert(reply);
  freeReplyObject(reply);
  return out;
}

// A connected context with both timeouts set, or why not (`timed_out` for a connect that
// ran out of time rather than being refused).
redisContext* OpenContext(const std::string& host, int port, int connect_timeout_ms,
                          int command_timeout_ms, std::string& why, bool& timed_out) {
  redisContext* context = redisConnectWithTimeout(host.c_str(), port, Millis(connect_timeout_ms));
  if (context == nullptr || context->err) {
    why = context ? context->errstr : "out of memory";
    timed_out = TimedOut(why.c_str());
    if (context) redisFree(context);
    return nullptr;
  }
  redisSetTimeout(context, Millis(command_timeout_ms));
  return context;
}

// AUTH (and SELECT) on a fresh connection; the failure names the setting to check.
Result<void> Authenticate(redisContext* context, const std::string& user,
                          const std::string& password, int db, std::string_view where,
                          std::string_view setting) {
  std::vector<std::vector<std::string>> setup;
  if (!password.empty()) {
    setup.push_back(user.empty() ? std::vector<std::string>{"AUTH", password}
                                 : std::vector<std::string>{"AUTH", user, password});
  }
  if (db != 0) setup.push_back({"SELECT", std::to_string(db)});
  for (const auto& args : setup) {
    auto reply = RunOn(context, args);
    std::string failure = !reply ? reply.error().message : reply->IsError() ? reply->str : "";
    if (!failure.empty()) {
      return Fail(Errc::kUnavailable, "redis: " + args[0] + " at " + std::string(where) +
                                          " failed: " + failure + " (check " +
                                          std::string(setting) + ")");
    }
  }
  return {};
}

// An idle pooled connection whose peer has gone (it is readable: EOF or a reset) would
// swallow the next command and make its outcome unknown; it is dropped before use instead.
bool Stale(redisContext* context) {
  pollfd fd{context->fd, POLLIN, 0};
  return poll(&fd, 1, 0) != 0;
}

// The failover errors: the node did not run the command. `kind` names it in /metrics.
std::string_view FailoverError(const std::string& error) {
  if (StartsWith(error, "CLUSTERDOWN")) return "clusterdown";
  if (StartsWith(error, "TRYAGAIN")) return "tryagain";
  if (StartsWith(error, "READONLY")) return "readonly";
  if (StartsWith(error, "MASTERDOWN")) return "masterdown";
  if (StartsWith(error, "LOADING")) return "loading";
  return "";
}

}  // namespace delayq::store::redis_detail
