#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/defaults.h"

namespace delayq::engine {

struct TopicLimits {
  size_t max_in_flight = defaults::kCallbackMaxInFlightPerTopic;  // in flight at once
  double rate_limit = 0;  // callbacks started per second; 0: unlimited
};

// The flow control of callback delivery, as a plain data structure: per topic, at most
// max_in_flight callbacks are claimed and handed to the sink at once (and at most
// rate_limit per second start), so that a slow or dead receiver only holds its own topic's
// slots; over all topics, at most `max_total` are in flight or reserved by a queued claim.
//
// A lane is in at most one of these places at a time, which is what keeps every topic's
// due tasks moving without any walk over all topics:
//   claim_queued   its claim job is queued (and holds a global slot);
//   waiting        in the FIFO of lanes waiting for a global slot;
//   blocked        in the heap of lanes blocked until a time (rate-limit token, claim retry);
//   full           in_flight == max_in_flight: the next completion pumps it;
//   idle           none of these: forgotten, so an idle topic costs nothing here.
//
// It does no I/O and reads no clock: the owner passes `now`, runs the claim jobs, and wakes
// up at the times it is given (Unblock). Not thread-safe: the owner guards it.
class CallbackLanes {
 public:
  explicit CallbackLanes(size_t max_total) : max_total_(max_total) {}

  struct PumpResult {
    bool claim = false;            // queue a claim job for the topic (its global slot is held)
    int64_t blocked_until_ms = 0;  // nonzero: blocked for a token until then
  };
  // The topic has due callback tasks.
  PumpResult Pump(const std::string& topic, const TopicLimits& limits, int64_t now);

  // The claim job Pump or a completion asked for could not be queued: its reservation is
  // given back.
  void ClaimNotQueued(const std::string& topic);
  // Blocks the lane until `until_ms` unless it is already queued, waiting or blocked; true
  // when it did.
  bool BlockForRetry(const std::string& topic, int64_t until_ms);

  // The claim job starts: reserves the slots it may fill (0 when stopping) and returns
  // their number. Its own global slot becomes part of the reservation.
  size_t BeginClaim(const std::string& topic, const TopicLimits& limits, int64_t now,
                    bool stopping);
  struct ClaimEnd {
    bool again = false;              // pump the lane again (more may be due)
    int64_t blocked_until_ms = 0;    // nonzero: the claim failed, blocked for a retry
    std::vector<std::string> start;  // waiting lanes given a global slot: queue their claims
  };
  // The claim job ended: `taken` of the `slots` reserved were claimed (nullopt: the claim
  // failed, and the lane is blocked until `retry_at_ms`); the unused ones are given back.
  ClaimEnd EndClaim(const std::string& topic, const TopicLimits& limits, int64_t now, size_t slots,
                    std::optional<size_t> taken, int64_t retry_at_ms, bool stopping);

  // A call ended: its slot is given back, its lane forgotten when idle unless `more_due`.
  // Returns the waiting lanes given a global slot.
  std::vector<std::string> Release(const std::string& topic, const TopicLimits& limits, int64_t now,
                                   bool more_due, bool stopping);

  // Lanes whose block has ended by `now` (to be pumped), and when the next one ends.
  // Only the heap's top is looked at, so the cost does not depend on the number of topics.
  std::vector<std::string> Unblock(int64_t now);
  std::optional<int64_t> NextUnblockMs() const;

  // Callbacks in flight plus claims queued.
  size_t Busy() const { return in_flight_ + claims_queued_; }

 private:
  struct Lane {
    size_t in_flight = 0;          // handed to the sink, not yet answered
    bool claim_queued = false;     // a claim job of this lane is queued (at most one)
    bool repump = false;           // pumped while its claim job was queued: look again after
    bool waiting = false;          // in waiting_, for global capacity
    double tokens = 0;             // rate limit bucket
    int64_t refilled_at_ms = 0;    // 0: bucket never used (starts full)
    int64_t blocked_until_ms = 0;  // in blocked_, waiting for a token or a retry
  };
  using BlockedEntry = std::pair<int64_t, std::string>;  // (blocked_until_ms, topic)

  static void Refill(Lane& lane, const TopicLimits& limits, int64_t now);
  void EraseIfIdle(const std::string& topic, const TopicLimits& limits, int64_t now);
  void Block(const std::string& topic, Lane& lane, int64_t until_ms);
  std::vector<std::string> TakeWaiting(bool stopping);

  const size_t max_total_;
  std::unordered_map<std::string, Lane> lanes_;
  size_t in_flight_ = 0;      // sum of lanes' in_flight
  size_t claims_queued_ = 0;  // lanes with claim_queued; each holds one global slot
  // Lanes with due tasks waiting for global capacity, oldest first (round-robin over
  // topics: a lane claims what it may, and waits at the back again if more is due).
  std::deque<std::string> waiting_;
  // Lanes blocked until a time, earliest first; an entry whose time no longer matches its
  // lane's blocked_until_ms is stale and skipped.
  std::priority_queue<BlockedEntry, std::vector<BlockedEntry>, std::greater<>> blocked_;
};

}  // namespace delayq::engine
