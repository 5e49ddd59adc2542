#include "schedule/step.h"

#include <algorithm>

namespace delayq::schedule {

int64_t FirstOccurrence(const Timing& timing, int64_t now_ms) {
  return timing.NextAfter(now_ms).value_or(kNoOccurrence);
}

Step PlanStep(const Timing& timing, const Definition& definition, int64_t pending_ms,
              int64_t now_ms) {
  Step step;
  const bool stale = now_ms - pending_ms > kMissedAfterMs;
  const int64_t window_start = now_ms - definition.catch_up_window_ms;
  // Missed occurrences after the pending one, within the window; then the first future one.
  std::vector<int64_t> missed;
  std::optional<int64_t> next = timing.NextAfter(std::max(pending_ms, window_start - 1));
  const size_t cap = definition.catch_up == CatchUp::kAll ? kMaxCatchUpPerStep : SIZE_MAX;
  while (next && *next <= now_ms && missed.size() < cap) {
    if (definition.catch_up == CatchUp::kLatest && !missed.empty()) {
      missed.back() = *next;  // only the most recent one matters
    } else {
      missed.push_back(*next);
    }
    next = timing.NextAfter(*next);
  }
  const bool capped = next && *next <= now_ms;
  switch (definition.catch_up) {
    case CatchUp::kSkip:
      step.cancel_pending = stale;
      break;
    case CatchUp::kLatest:
      // The pending one is the latest unless a later one was missed too.
      step.cancel_pending = stale && !missed.empty();
      step.occurrences = missed;
      break;
    case CatchUp::kAll:
      step.cancel_pending = stale && pending_ms < window_start;
      step.occurrences = missed;
      break;
  }
  if (!capped && next) step.occurrences.push_back(*next);
  if (!step.occurrences.empty()) step.next_occurrence_ms = step.occurrences.back();
  return step;
}

}  // namespace delayq::schedule
