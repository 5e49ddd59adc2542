#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "schedule/timing.h"

namespace delayq::schedule {

inline constexpr int64_t kNoOccurrence = std::numeric_limits<int64_t>::max();

// What to do with occurrences missed while no delayq instance was running (or all were far
// behind); per schedule.
enum class CatchUp : uint8_t {
  kSkip = 0,    // fire only future occurrences
  kLatest = 1,  // fire the most recent missed one, once
  kAll = 2,     // fire every missed one within the catch-up window
};
std::string_view CatchUpName(CatchUp policy);
std::optional<CatchUp> ParseCatchUp(std::string_view name);

// How old a missed occurrence may be and still be fired (latest, all); its default.
inline constexpr int64_t kDefaultCatchUpWindowMs = 3'600'000;
inline constexpr int64_t kMaxCatchUpWindowMs = 7LL * 24 * 3600 * 1000;
inline constexpr int64_t kMaxJitterMs = 3'600'000;

// The task each occurrence makes (the fields of a v1 add that are not timing).
struct TaskTemplate {
  std::string payload;
  bool payload_is_json = false;
  uint8_t kind = 0;  // DeliveryKind: 0 pull, 1 callback (or sink)
  std::string callback;
  uint32_t max_attempts = 0;  // 0: the server's default
  bool operator==(const TaskTemplate&) const = default;
};

// A schedule as its owner defines it.
struct Definition {
  std::string topic;
  TimingSpec timing;      // timing.anchor_ms: set by the engine when it (re)starts the schedule
  int64_t jitter_ms = 0;  // each occurrence's task is due up to this much after it, never before
  CatchUp catch_up = CatchUp::kLatest;
  int64_t catch_up_window_ms = kDefaultCatchUpWindowMs;
  bool paused = false;
  TaskTemplate task;

  // Equal in everything but the interval anchor (a PUT of the same definition changes nothing).
  bool SameAs(const Definition& other) const;
};

// Where a schedule stands; the engine's, stored beside the definition.
struct Progress {
  // Bumped whenever the pending occurrence is dropped (replace, pause, resume): part of the
  // occurrence tasks' identity, so that an occurrence cancelled by a pause can be made again
  // after a resume.
  uint64_t generation = 1;
  int64_t next_occurrence_ms = kNoOccurrence;  // the one occurrence made as a task, not yet fired
  uint64_t next_task_id = 0;
  int64_t last_occurrence_ms = 0;  // the last occurrence that fired (0: none yet)
  uint64_t last_task_id = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// The stored body: versioned bytes (see the .cc for the layout and how to change it).
std::string EncodeBody(const Definition& definition, const Progress& progress);
Result<std::pair<Definition, Progress>> DecodeBody(std::string_view bytes);

// Schedule names: 1-128 characters of [A-Za-z0-9._:-] (as topics).
bool IsValidName(std::string_view name);

// The dedup key of an occurrence's task: its identity. "schedule/<name>/<generation>/<ms>"
// (a manual trigger: "schedule/<name>/trigger/<ms>"). '/' cannot occur in a name.
std::string OccurrenceKey(std::string_view name, uint64_t generation, int64_t occurrence_ms);
std::string TriggerKey(std::string_view name, int64_t at_ms);
inline constexpr std::string_view kOccurrenceKeyPrefix = "schedule/";
struct Occurrence {
  std::string schedule;
  int64_t occurrence_ms = 0;
};
std::optional<Occurrence> ParseOccurrenceKey(std::string_view dedup_key);

// An occurrence's due time: the occurrence plus a jitter in [0, jitter_ms] that depends only on
// the schedule and the occurrence (every instance computes the same one).
int64_t JitteredDue(std::string_view name, int64_t occurrence_ms, int64_t jitter_ms);

}  // namespace delayq::schedule
