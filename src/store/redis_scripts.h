#pragma once

#include "store/redis_client.h"

namespace delayq::store::redis_scripts {

// The Lua scripts of the Redis store, each atomic on one topic's keys (one hash slot) or
// on the global keys (docs/ARCHITECTURE.md, "Redis layout"). Per-topic scripts take the
// topic's key prefix "dq:{topic}:" as KEYS[1]. A refused per-task call answers
// {"CF", task fields}, for the caller to word (queue/transitions.h).
const RedisScript& Add();          // ARGV: 9 fields per task -> ids stored
const RedisScript& Claim();        // ARGV: now, max, lease_until, mode L|C, kind, tokens...
const RedisScript& ConsumeById();  // ARGV: id, now -> task fields | "NF" | "ND"
const RedisScript& Ack();          // ARGV: id, token, now -> task fields | "NF" | CF
const RedisScript& Nack();         // ARGV: id, token, retry_at, reason, now
const RedisScript& Extend();       // ARGV: id, token, lease_until, now -> fields | NF | CF
const RedisScript& Cancel();       // ARGV: id, now
const RedisScript& Reschedule();   // ARGV: id, due_at, now
const RedisScript& Redrive();      // ARGV: id, now
const RedisScript& Purge();        // ARGV: before, limit -> ids deleted
// ARGV: from score, after member, to score, limit, budget -> last score, last member, more,
// entries read, task fields...
const RedisScript& ListDue();
const RedisScript& Horizon();  // ARGV: start, width, n -> in flight, overdue, n counts
// ARGV: redrive|delete, limit, now -> count, more, ids handled
const RedisScript& DeadBulk();
// Global: KEYS next:p, next:c, gen, topics, maxid; ARGV bump(0|1), max id, then
// (kind, topic, score) triples.
const RedisScript& Hint();
// Global: KEYS next:<kind>, gen; ARGV topic, gen field, generation read before, new min.
const RedisScript& FixHint();
// KEYS node key; ARGV owner token, ttl ms -> 1 if still ours (and extended).
const RedisScript& RenewNode();

}  // namespace delayq::store::redis_scripts
