#pragma once

#include <cstdint>
#include <unordered_map>

#include "histogram.h"
#include "report.h"

namespace loadgen {

// What a scenario added and what came back to it: every added id received exactly once,
// nothing it never added, nothing before its due time; the lateness of each first receipt.
class Ledger {
 public:
  enum class Receipt { kFirst, kDuplicate, kUnexpected };

  // With every_id_added false (a log read without the list of added ids), an id seen first
  // is taken as added.
  explicit Ledger(bool every_id_added = true) : every_id_added_(every_id_added) {}

  // False when the id was added already (a server answered one id twice).
  bool Add(uint64_t id) { return received_.emplace(id, false).second; }

  Receipt Receive(uint64_t id);
  // A receipt read at wall time received_us of a task due at due_us: its lateness, when first.
  Receipt Receive(uint64_t id, int64_t received_us, int64_t due_us);

  uint64_t added() const { return received_.size(); }
  uint64_t received() const { return received_count_; }
  uint64_t missing() const { return added() - received_count_; }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t unexpected() const { return unexpected_; }
  uint64_t early() const { return early_; }
  bool AllReceived() const { return received_count_ >= received_.size(); }
  const LatencyHistogram& lateness() const { return lateness_; }
  int64_t last_received_us() const { return last_received_us_; }

  // Every added id received once, nothing unexpected or early.
  bool Clean() const {
    return missing() == 0 && duplicates_ == 0 && unexpected_ == 0 && early_ == 0;
  }

  // added, received, missing, duplicates, unexpected, early.
  void Write(Report& report) const;
  // min_ms, p50_ms, p99_ms, max_ms of the lateness of first receipts.
  void WriteLateness(Report& report) const;

 private:
  bool every_id_added_;
  std::unordered_map<uint64_t, bool> received_;  // every added id -> received yet?
  uint64_t received_count_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t unexpected_ = 0;  // ids never added
  uint64_t early_ = 0;       // received before their due time
  int64_t min_lateness_us_ = INT64_MAX;
  int64_t last_received_us_ = 0;  // wall time of the last first receipt
  LatencyHistogram lateness_;
};

}  // namespace loadgen
