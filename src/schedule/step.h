#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "schedule/schedule.h"
#include "schedule/timing.h"

namespace delayq::schedule {

// A pending occurrence this much past its time when the engine comes to it counts as missed
// (the instance was down or far behind): normally the engine reaches it within milliseconds.
inline constexpr int64_t kMissedAfterMs = 1'000;
// Missed occurrences made as tasks in one step at most (catch-up `all`); the rest follow in
// the next steps, so that one schedule cannot hold the engine for long.
inline constexpr size_t kMaxCatchUpPerStep = 1'000;

// What the engine does when a schedule's pending occurrence `pending_ms` is due (<= now_ms):
// the occurrence has fired (or is firing) as its task; the next one is made now. Occurrences
// between the two that were missed follow the catch-up policy.
struct Step {
  bool cancel_pending = false;       // drop the pending occurrence's task (a missed one)
  std::vector<int64_t> occurrences;  // to make as tasks now, ascending; none past now but the last
  int64_t next_occurrence_ms = kNoOccurrence;  // the last of them, or none (the schedule ended)
};

Step PlanStep(const Timing& timing, const Definition& definition, int64_t pending_ms,
              int64_t now_ms);

// The first occurrence of a schedule that (re)starts at `now_ms` (create, replace, resume):
// none of the past is caught up.
int64_t FirstOccurrence(const Timing& timing, int64_t now_ms);

}  // namespace delayq::schedule
