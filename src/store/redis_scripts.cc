#include "store/redis_scripts.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "store/redis_script_files.h"

namespace delayq::store::redis_scripts {

namespace {

// The text of one script file (src/store/redis_scripts/). A missing file is a build defect:
// the process stops at the first use, which every store test reaches.
std::string Source(std::string_view name) {
  for (size_t i = 0; i < kEmbeddedFileCount; ++i) {
    if (name == kEmbeddedFiles[i].name) {
      return std::string(reinterpret_cast<const char*>(kEmbeddedFiles[i].data),
                         kEmbeddedFiles[i].size);
    }
  }
  std::fprintf(stderr, "delayq: no embedded Redis script %.*s\n", static_cast<int>(name.size()),
               name.data());
  std::abort();
}

// Leaked on purpose: scripts live as long as the process and are used from any thread.
// Per-topic scripts start with prelude.lua, their shared helpers.
const RedisScript& PerTopic(std::string_view name) {
  return *new RedisScript(Source("prelude.lua") + Source(name));
}
const RedisScript& Global(std::string_view name) { return *new RedisScript(Source(name)); }

}  // namespace

const RedisScript& Add() {
  static const RedisScript& script = PerTopic("add.lua");
  return script;
}

const RedisScript& Claim() {
  static const RedisScript& script = PerTopic("claim.lua");
  return script;
}

const RedisScript& ConsumeById() {
  static const RedisScript& script = PerTopic("consume_by_id.lua");
  return script;
}

const RedisScript& Ack() {
  static const RedisScript& script = PerTopic("ack.lua");
  return script;
}

const RedisScript& Nack() {
  static const RedisScript& script = PerTopic("nack.lua");
  return script;
}

const RedisScript& Extend() {
  static const RedisScript& script = PerTopic("extend.lua");
  return script;
}

const RedisScript& Cancel() {
  static const RedisScript& script = PerTopic("cancel.lua");
  return script;
}

const RedisScript& Reschedule() {
  static const RedisScript& script = PerTopic("reschedule.lua");
  return script;
}

const RedisScript& Redrive() {
  static const RedisScript& script = PerTopic("redrive.lua");
  return script;
}

const RedisScript& Purge() {
  static const RedisScript& script = PerTopic("purge.lua");
  return script;
}

const RedisScript& DeadBulk() {
  static const RedisScript& script = PerTopic("dead_bulk.lua");
  return script;
}

const RedisScript& Hint() {
  static const RedisScript& script = Global("hint.lua");
  return script;
}

const RedisScript& FixHint() {
  static const RedisScript& script = Global("fix_hint.lua");
  return script;
}

const RedisScript& RenewNode() {
  static const RedisScript& script = Global("renew_node.lua");
  return script;
}

const RedisScript& ListDue() {
  static const RedisScript& script = PerTopic("list_due.lua");
  return script;
}

const RedisScript& Horizon() {
  static const RedisScript& script = PerTopic("horizon.lua");
  return script;
}

}  // namespace delayq::store::redis_scripts
