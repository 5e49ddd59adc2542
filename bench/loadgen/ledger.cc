#include "ledger.h"

#include <algorithm>

namespace loadgen {

Ledger::Receipt Ledger::Receive(uint64_t id) {
  auto entry = received_.find(id);
  if (entry == received_.end()) {
    if (every_id_added_) {
      ++unexpected_;
      return Receipt::kUnexpected;
    }
    entry = received_.emplace(id, false).first;
  }
  if (entry->second) {
    ++duplicates_;
    return Receipt::kDuplicate;
  }
  entry->second = true;
  ++received_count_;
  return Receipt::kFirst;
}

Ledger::Receipt Ledger::Receive(uint64_t id, int64_t received_us, int64_t due_us) {
  Receipt receipt = Receive(id);
  if (receipt == Receipt::kFirst) {
    int64_t lateness_us = received_us - due_us;
    if (lateness_us < 0) ++early_;
    min_lateness_us_ = std::min(min_lateness_us_, lateness_us);
    lateness_.Record(lateness_us);
    last_received_us_ = received_us;
  }
  return receipt;
}

void Ledger::Write(Report& report) const {
  report.Set("added", added())
      .Set("received", received())
      .Set("missing", missing())
      .Set("duplicates", duplicates_)
      .Set("unexpected", unexpected_)
      .Set("early", early_);
}

void Ledger::WriteLateness(Report& report) const {
  report.Set("min_ms", received_count_ > 0 ? static_cast<double>(min_lateness_us_) / 1000.0 : 0.0);
  report.Latency("", lateness_);
}

}  // namespace loadgen
