#include "store/redis_client.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace delayq::store {

namespace {

constexpr int kMaxRedirects = 5;
constexpr size_t kSlotCount = 16384;

Error UrlError(std::string_view url, std::string_view what) {
  return Error{Errc::kInvalidArgument,
               "redis.url '" + std::string(url) + "': " + std::string(what) +
                   " (expected redis://[[user]:password@]host[:port][/db])"};
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

}  // namespace

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

struct RedisClient::Node {
  std::string host;
  int port = 0;
  std::mutex mu;
  std::condition_variable freed;
  std::vector<redisContext*> idle;
  size_t open = 0;  // idle + borrowed
};

RedisClient::RedisClient(RedisUrl url, RedisClientOptions options)
    : url_(std::move(url)), options_(options) {}

RedisClient::~RedisClient() {
  for (auto& [name, node] : nodes_) {
    for (redisContext* context : node->idle) redisFree(context);
  }
}

Result<std::unique_ptr<RedisClient>> RedisClient::Connect(const RedisUrl& url,
                                                          RedisClientOptions options) {
  std::unique_ptr<RedisClient> client(new RedisClient(url, options));
  client->seed_ = &client->NodeAt(url.host, url.port);
  auto reply = client->Run(RedisCommand{{"CLUSTER", "SLOTS"}, ""});
  if (!reply) return std::unexpected(reply.error());
  if (reply->IsError()) {
    // Only a server without cluster support is a single server; any other refusal is a
    // problem to report, not a mode to guess.
    if (reply->str.find("cluster support disabled") == std::string::npos) {
      return Fail(Errc::kUnavailable, "redis: CLUSTER SLOTS answered '" + reply->str + "'");
    }
    return client;
  }
  if (url.db != 0) {
    return Fail(Errc::kInvalidArgument,
                "redis.url: a Redis Cluster has only database 0; remove '/" +
                    std::to_string(url.db) + "' from the URL");
  }
  client->cluster_ = true;
  if (auto applied = client->ApplySlots(*reply); !applied) return std::unexpected(applied.error());
  return client;
}

RedisClient::Node& RedisClient::NodeAt(const std::string& host, int port) {
  std::string name = host + ":" + std::to_string(port);
  auto& node = nodes_[name];
  if (!node) {
    node = std::make_unique<Node>();
    node->host = host;
    node->port = port;
  }
  return *node;
}

Result<void> RedisClient::LoadSlots() {
  auto reply = Run(RedisCommand{{"CLUSTER", "SLOTS"}, ""});
  if (!reply) return std::unexpected(reply.error());
  return ApplySlots(*reply);
}

Result<void> RedisClient::ApplySlots(const RedisReply& reply) {
  if (reply.type != RedisReply::Type::kArray) {
    return Fail(Errc::kUnavailable, "redis: CLUSTER SLOTS answered '" + reply.str + "'");
  }
  std::lock_guard lock(mu_);
  std::vector<Node*> slots(kSlotCount, nullptr);
  for (const RedisReply& range : reply.elements) {
    if (range.elements.size() < 3 || range.elements[2].elements.size() < 2) continue;
    const RedisReply& master = range.elements[2];
    std::string host = master.elements[0].str;
    if (host.empty()) host = url_.host;  // a node that does not know its own address
    Node& node = NodeAt(host, static_cast<int>(master.elements[1].integer));
    for (long long slot = range.elements[0].integer; slot <= range.elements[1].integer; ++slot) {
      if (slot >= 0 && slot < static_cast<long long>(kSlotCount)) slots[slot] = &node;
    }
  }
  slots_ = std::move(slots);
  return {};
}

RedisClient::Node& RedisClient::NodeFor(const std::string& route_key) {
  std::lock_guard lock(mu_);
  if (!cluster_ || route_key.empty() || slots_.empty()) return *seed_;
  Node* node = slots_[RedisKeySlot(route_key)];
  return node ? *node : *seed_;
}

Result<redisContext*> RedisClient::Acquire(Node& node) {
  {
    std::unique_lock lock(node.mu);
    node.freed.wait(
        lock, [&] { return !node.idle.empty() || node.open < options_.max_connections_per_node; });
    if (!node.idle.empty()) {
      redisContext* context = node.idle.back();
      node.idle.pop_back();
      return context;
    }
    ++node.open;
  }
  auto give_back = [&] {
    std::lock_guard lock(node.mu);
    --node.open;
    node.freed.notify_one();
  };
  timeval connect_timeout{options_.connect_timeout_ms / 1000,
                          (options_.connect_timeout_ms % 1000) * 1000};
  redisContext* context = redisConnectWithTimeout(node.host.c_str(), node.port, connect_timeout);
  std::string where = node.host + ":" + std::to_string(node.port);
  if (context == nullptr || context->err) {
    std::string why = context ? context->errstr : "out of memory";
    if (context) redisFree(context);
    give_back();
    return Fail(Errc::kUnavailable, "redis: cannot connect to " + where + ": " + why);
  }
  timeval command_timeout{options_.command_timeout_ms / 1000,
                          (options_.command_timeout_ms % 1000) * 1000};
  redisSetTimeout(context, command_timeout);
  std::vector<std::vector<std::string>> setup;
  if (!url_.password.empty()) {
    if (url_.user.empty()) {
      setup.push_back({"AUTH", url_.password});
    } else {
      setup.push_back({"AUTH", url_.user, url_.password});
    }
  }
  if (url_.db != 0) setup.push_back({"SELECT", std::to_string(url_.db)});
  for (const auto& args : setup) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
    std::string failure;
    if (reply == nullptr) {
      failure = context->errstr;
    } else if (reply->type == REDIS_REPLY_ERROR) {
      failure = std::string(reply->str, reply->len);
    }
    if (reply) freeReplyObject(reply);
    if (!failure.empty()) {
      redisFree(context);
      give_back();
      return Fail(Errc::kUnavailable, "redis: " + args[0] + " at " + where + " failed: " + failure +
                                          " (check the password and database in redis.url)");
    }
  }
  return context;
}

void RedisClient::Release(Node& node, redisContext* context, bool broken) {
  std::lock_guard lock(node.mu);
  if (broken) {
    redisFree(context);
    --node.open;
  } else {
    node.idle.push_back(context);
  }
  node.freed.notify_one();
}

Result<std::vector<RedisReply>> RedisClient::SendOnNode(
    Node& node, const std::vector<const RedisCommand*>& commands, bool asking) {
  auto acquired = Acquire(node);
  if (!acquired) return std::unexpected(acquired.error());
  redisContext* context = *acquired;
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  auto append = [&](const std::vector<std::string>& args) {
    argv.clear();
    lengths.clear();
    for (const auto& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    redisAppendCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data());
  };
  if (asking) append({"ASKING"});
  for (const RedisCommand* command : commands) append(command->args);
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  size_t expected = commands.size() + (asking ? 1 : 0);
  for (size_t i = 0; i < expected; ++i) {
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) {
      std::string why = context->errstr[0] ? context->errstr : "connection lost";
      Release(node, context, true);
      return Fail(Errc::kUnavailable,
                  "redis: " + node.host + ":" + std::to_string(node.port) + ": " + why);
    }
    auto* reply = static_cast<redisReply*>(raw);
    if (!(asking && i == 0)) replies.push_back(Convert(reply));
    freeReplyObject(reply);
  }
  Release(node, context, false);
  return replies;
}

Result<RedisReply> RedisClient::Redirected(const RedisCommand& command, const RedisReply& error,
                                           int depth) {
  if (depth >= kMaxRedirects) {
    return Fail(Errc::kUnavailable, "redis: too many redirections (" + error.str + ")");
  }
  std::string host;
  int port = 0;
  if (!ParseRedirect(error.str, host, port)) {
    return Fail(Errc::kUnavailable, "redis: unreadable redirection '" + error.str + "'");
  }
  bool asking = StartsWith(error.str, "ASK ");
  Node* target;
  {
    std::lock_guard lock(mu_);
    target = &NodeAt(host, port);
  }
  if (!asking) {
    // The slot moved for good: learn the new map, then retry where it says.
    if (auto loaded = LoadSlots(); !loaded) return std::unexpected(loaded.error());
  }
  auto replies = SendOnNode(*target, {&command}, asking);
  if (!replies) return std::unexpected(replies.error());
  return FixUp(command, std::move(replies->front()), depth + 1);
}

Result<RedisReply> RedisClient::FixUp(const RedisCommand& command, RedisReply reply, int depth) {
  if (!reply.IsError()) return reply;
  if (StartsWith(reply.str, "MOVED ") || StartsWith(reply.str, "ASK ")) {
    return Redirected(command, reply, depth);
  }
  if (StartsWith(reply.str, "NOSCRIPT") && command.script != nullptr && depth < kMaxRedirects) {
    // The server lost its script cache (restart, new node): EVAL sends the source once,
    // which caches it there for the next EVALSHA.
    RedisCommand eval = command;
    eval.args[0] = "EVAL";
    eval.args[1] = command.script->source;
    eval.script = nullptr;
    auto replies = SendOnNode(NodeFor(eval.route_key), {&eval}, false);
    if (!replies) return std::unexpected(replies.error());
    return FixUp(eval, std::move(replies->front()), depth + 1);
  }
  return reply;
}

Result<RedisReply> RedisClient::Run(const RedisCommand& command) {
  auto replies = Pipeline({command});
  if (!replies) return std::unexpected(replies.error());
  return std::move(replies->front());
}

Result<std::vector<RedisReply>> RedisClient::Pipeline(const std::vector<RedisCommand>& commands) {
  std::vector<const RedisCommand*> pointers;
  pointers.reserve(commands.size());
  for (const RedisCommand& command : commands) pointers.push_back(&command);
  return Pipeline(pointers);
}

Result<std::vector<RedisReply>> RedisClient::Pipeline(
    const std::vector<const RedisCommand*>& commands) {
  std::vector<RedisReply> replies(commands.size());
  // Group by node, keeping each node's commands in their order.
  std::vector<std::pair<Node*, std::vector<size_t>>> groups;
  for (size_t i = 0; i < commands.size(); ++i) {
    Node* node = &NodeFor(commands[i]->route_key);
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == node; });
    if (it == groups.end()) {
      groups.push_back({node, {i}});
    } else {
      it->second.push_back(i);
    }
  }
  for (auto& [node, indexes] : groups) {
    std::vector<const RedisCommand*> batch;
    batch.reserve(indexes.size());
    for (size_t index : indexes) batch.push_back(commands[index]);
    auto sent = SendOnNode(*node, batch, false);
    if (!sent) return std::unexpected(sent.error());
    for (size_t k = 0; k < indexes.size(); ++k) {
      auto fixed = FixUp(*commands[indexes[k]], std::move((*sent)[k]), 0);
      if (!fixed) return std::unexpected(fixed.error());
      replies[indexes[k]] = std::move(*fixed);
    }
  }
  return replies;
}

Result<std::vector<std::vector<RedisReply>>> RedisClient::Phases(
    const std::vector<std::vector<RedisCommand>>& phases) {
  std::vector<std::vector<RedisReply>> out;
  if (!cluster_) {
    std::vector<const RedisCommand*> all;
    for (const auto& phase : phases) {
      for (const RedisCommand& command : phase) all.push_back(&command);
    }
    auto replies = Pipeline(all);
    if (!replies) return std::unexpected(replies.error());
    size_t at = 0;
    for (const auto& phase : phases) {
      out.emplace_back(std::make_move_iterator(replies->begin() + at),
                       std::make_move_iterator(replies->begin() + at + phase.size()));
      at += phase.size();
    }
    return out;
  }
  for (const auto& phase : phases) {
    auto replies = Pipeline(phase);
    if (!replies) return std::unexpected(replies.error());
    out.push_back(std::move(*replies));
  }
  return out;
}

}  // namespace delayq::store
