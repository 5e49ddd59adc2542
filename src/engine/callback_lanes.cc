#include "engine/callback_lanes.h"

#include <algorithm>

namespace delayq::engine {

CallbackLanes::PumpResult CallbackLanes::Pump(const std::string& topic, const TopicLimits& limits,
                                              int64_t now) {
  Lane& lane = lanes_[topic];
  if (lane.claim_queued) {
    lane.repump = true;  // the job looks again when it is done
    return {};
  }
  if (lane.waiting || lane.blocked_until_ms != 0) return {};  // their queue pumps them
  if (lane.in_flight >= limits.max_in_flight) return {};      // a completion pumps it
  if (limits.rate_limit > 0) {
    Refill(lane, limits, now);
    if (lane.tokens < 1) {
      int64_t wait_ms = static_cast<int64_t>((1 - lane.tokens) * 1000.0 / limits.rate_limit);
      Block(topic, lane, now + std::max<int64_t>(1, wait_ms));
      return {false, lane.blocked_until_ms};
    }
  }
  if (in_flight_ + claims_queued_ >= max_total_) {
    lane.waiting = true;
    waiting_.push_back(topic);
    return {};
  }
  lane.claim_queued = true;
  ++claims_queued_;
  return {true, 0};
}

void CallbackLanes::ClaimNotQueued(const std::string& topic) {
  Lane& lane = lanes_[topic];
  lane.claim_queued = false;
  lane.repump = false;
  --claims_queued_;
}

bool CallbackLanes::BlockForRetry(const std::string& topic, int64_t until_ms) {
  Lane& lane = lanes_[topic];
  if (lane.blocked_until_ms != 0 || lane.claim_queued || lane.waiting) return false;
  Block(topic, lane, until_ms);
  return true;
}

// The slots are reserved (lane and global counts) before the claim and the unused ones
// given back after it, so that a pump meanwhile never sees more room than there is.
size_t CallbackLanes::BeginClaim(const std::string& topic, const TopicLimits& limits, int64_t now,
                                 bool stopping) {
  Lane& lane = lanes_[topic];
  --claims_queued_;  // this job's own global slot becomes part of the reservation
  size_t global_free = max_total_ - std::min(max_total_, in_flight_ + claims_queued_);
  size_t topic_free = limits.max_in_flight - std::min(limits.max_in_flight, lane.in_flight);
  size_t slots = std::min(global_free, topic_free);
  if (limits.rate_limit > 0) {
    Refill(lane, limits, now);
    slots = std::min(slots, static_cast<size_t>(std::max(0.0, lane.tokens)));
  }
  if (stopping) slots = 0;
  lane.in_flight += slots;
  in_flight_ += slots;
  return slots;
}

CallbackLanes::ClaimEnd CallbackLanes::EndClaim(const std::string& topic, const TopicLimits& limits,
                                                int64_t now, size_t slots,
                                                std::optional<size_t> taken, int64_t retry_at_ms,
                                                bool stopping) {
  ClaimEnd end;
  size_t got = taken.value_or(0);
  Lane& lane = lanes_[topic];
  lane.claim_queued = false;
  lane.in_flight -= slots - got;
  in_flight_ -= slots - got;
  if (limits.rate_limit > 0) lane.tokens -= static_cast<double>(got);
  // A full claim may have left more due; a pump during the claim may have seen more.
  end.again = taken && !stopping && ((slots > 0 && got == slots) || lane.repump);
  lane.repump = false;
  if (!taken) {
    // The due tasks are still in the lane; nothing else may wake it (no new task falls
    // due, no call is in flight), so the owner's wake-up tries again.
    Block(topic, lane, retry_at_ms);
    end.blocked_until_ms = retry_at_ms;
  } else if (!end.again) {
    EraseIfIdle(topic, limits, now);
  }
  end.start = TakeWaiting(stopping);
  return end;
}

std::vector<std::string> CallbackLanes::Release(const std::string& topic, const TopicLimits& limits,
                                                int64_t now, bool more_due, bool stopping) {
  if (auto it = lanes_.find(topic); it != lanes_.end() && it->second.in_flight > 0) {
    it->second.in_flight -= 1;
  }
  if (in_flight_ > 0) --in_flight_;
  if (!more_due) EraseIfIdle(topic, limits, now);
  return TakeWaiting(stopping);
}

std::vector<std::string> CallbackLanes::Unblock(int64_t now) {
  std::vector<std::string> unblocked;
  while (!blocked_.empty() && blocked_.top().first <= now) {
    BlockedEntry entry = blocked_.top();
    blocked_.pop();
    auto it = lanes_.find(entry.second);
    if (it == lanes_.end() || it->second.blocked_until_ms != entry.first) continue;  // stale
    it->second.blocked_until_ms = 0;
    unblocked.push_back(std::move(entry.second));
  }
  return unblocked;
}

std::optional<int64_t> CallbackLanes::NextUnblockMs() const {
  if (blocked_.empty()) return std::nullopt;
  return blocked_.top().first;
}

// Token bucket holding one second's worth (at least one token, so that rates below one per
// second still send); starts full.
void CallbackLanes::Refill(Lane& lane, const TopicLimits& limits, int64_t now) {
  double capacity = std::max(1.0, limits.rate_limit);
  if (lane.refilled_at_ms == 0) {
    lane.tokens = capacity;
  } else {
    // A wall clock stepped back refills nothing (and takes nothing).
    double elapsed_s =
        static_cast<double>(std::max<int64_t>(0, now - lane.refilled_at_ms)) / 1000.0;
    lane.tokens = std::min(capacity, lane.tokens + elapsed_s * limits.rate_limit);
  }
  lane.refilled_at_ms = now;
}

void CallbackLanes::Block(const std::string& topic, Lane& lane, int64_t until_ms) {
  lane.blocked_until_ms = until_ms;
  blocked_.emplace(until_ms, topic);
}

// An idle lane is forgotten, so that a topic with nothing in flight costs no memory here.
// A rate-limited lane is kept until its bucket is full again: forgetting it refills it.
void CallbackLanes::EraseIfIdle(const std::string& topic, const TopicLimits& limits, int64_t now) {
  auto it = lanes_.find(topic);
  if (it == lanes_.end()) return;
  Lane& lane = it->second;
  if (lane.in_flight != 0 || lane.claim_queued || lane.waiting || lane.blocked_until_ms != 0) {
    return;
  }
  if (limits.rate_limit > 0) {
    Refill(lane, limits, now);
    if (lane.tokens < std::max(1.0, limits.rate_limit)) return;
  }
  lanes_.erase(it);
}

// Hands free global slots to waiting lanes, oldest first. A waiting lane is known to be
// claimable: it was when it started waiting, and its in-flight count and tokens can only
// have improved since.
std::vector<std::string> CallbackLanes::TakeWaiting(bool stopping) {
  std::vector<std::string> start;
  while (!waiting_.empty() && !stopping && in_flight_ + claims_queued_ < max_total_) {
    std::string topic = std::move(waiting_.front());
    waiting_.pop_front();
    auto it = lanes_.find(topic);
    if (it == lanes_.end() || !it->second.waiting) continue;
    it->second.waiting = false;
    it->second.claim_queued = true;
    ++claims_queued_;
    start.push_back(std::move(topic));
  }
  return start;
}

}  // namespace delayq::engine
