#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/http_client.h"

namespace delayq::testing {

// What a failure test's clients saw, to answer its two questions: was any acknowledged add
// lost, and was any add that was refused delivered anyway. Adds are seed adds due at once,
// answered 2xx (acknowledged), a plain 503 (refused: must never be delivered), a 503 that
// says "outcome unknown" (may or may not be delivered) or anything else (counted as other).
// Deliveries are v1 pulls under a short lease, each acked: a claim or an ack lost in an
// outage is a redelivery after the lease, never a loss. Thread-safe.
class DeliveryLedger {
 public:
  DeliveryLedger() = default;
  ~DeliveryLedger() { StopLoad(); }
  DeliveryLedger(const DeliveryLedger&) = delete;
  DeliveryLedger& operator=(const DeliveryLedger&) = delete;

  // Adds `content` to `topic` and records the answer.
  void Add(HttpClient& client, const std::string& topic, const std::string& content);
  // One pull of up to 20 tasks of `topic`, each acked; returns how many were taken.
  int Consume(HttpClient& client, const std::string& topic);
  // Pulls every topic until every acknowledged add has been delivered or `timeout` passed.
  bool Drain(HttpClient& client, const std::vector<std::string>& topics,
             std::chrono::milliseconds timeout);

  // Starts one adder (contents `prefix` + n, topics in turn, at most 500,000 adds) and one
  // consumer (topics in turn) against `address`, until StopLoad. May be called per instance.
  void StartLoad(const std::string& address, std::vector<std::string> topics,
                 const std::string& prefix);
  void StopLoad();

  size_t acknowledged();
  // When an add to `topic` (any topic if empty) was last acknowledged; 0 if never.
  int64_t last_ok_ms(const std::string& topic = {});
  std::string last_message();
  size_t Lost();
  size_t RefusedDelivered();
  size_t UnknownDelivered();
  int other() const { return other_.load(); }
  int twice() const { return twice_.load(); }
  int failed_acks() const { return failed_acks_.load(); }
  // "acknowledged A, refused R, outcome unknown U (delivered D), delivered twice T (acks
  // failed F)".
  std::string Summary();

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::set<std::string> acknowledged_, refused_, unknown_, delivered_;
  std::map<std::string, int64_t> last_ok_ms_;  // by topic
  std::string last_message_;
  std::atomic<int> other_{0}, twice_{0}, failed_acks_{0};
};

}  // namespace delayq::testing
