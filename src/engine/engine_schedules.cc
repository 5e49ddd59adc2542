// Recurring schedules: each occurrence becomes an ordinary task, made when the previous one
// falls due. The schedule's record says which occurrence is pending (made as a task, not yet
// fired); a step moves it on with the store's version check first, so that of several
// instances exactly one makes each step, and then adds the task under the occurrence's
// identity (its dedup key), so that a retried or repeated add finds the first one.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/engine.h"
#include "engine/store_worker.h"
#include "schedule/step.h"

namespace delayq::engine {

namespace {

// Schedules stepped per store read; a round reads again while it finds this many.
constexpr size_t kSchedulesPerRound = 1'000;
// A change that lost to another instance's is tried again at most this often.
constexpr int kChangeAttempts = 5;
// While the store cannot be read, the next round comes this much later.
constexpr int64_t kScheduleRetryMs = 1'000;
// A schedule still due after a round (a catch-up that goes on, a write that failed, a record
// that cannot be read) is looked at again this much later, not in a busy loop.
constexpr int64_t kStillDueRetryMs = 100;
// Store reads per round at most (each up to kSchedulesPerRound schedules).
constexpr int kMaxReadsPerRound = 100;

static_assert(schedule::kNoOccurrence == kNoDeadline);

Error ScheduleNotFound(const std::string& name) {
  return Error{Errc::kNotFound, "schedule " + name + " not found"};
}

store::ScheduleRecord ToRecord(const ScheduleInfo& s) {
  store::ScheduleRecord r;
  r.name = s.name;
  r.topic = s.definition.topic;
  r.next_ms = s.progress.next_occurrence_ms;
  r.body = schedule::EncodeBody(s.definition, s.progress);
  return r;
}

Result<ScheduleInfo> FromRecord(const store::ScheduleRecord& r) {
  auto body = schedule::DecodeBody(r.body);
  if (!body) return std::unexpected(Error{body.error().code, r.name + ": " + body.error().message});
  return ScheduleInfo{r.name, std::move(body->first), body->second, r.version, false};
}

// The pending occurrence of `old` has fired when its time has come: it becomes the last one.
void NoteFired(schedule::Progress& progress, const schedule::Progress& old, int64_t now_ms) {
  if (old.next_occurrence_ms != schedule::kNoOccurrence && old.next_occurrence_ms <= now_ms) {
    progress.last_occurrence_ms = old.next_occurrence_ms;
    progress.last_task_id = old.next_task_id;
  }
}

// The ordinary task a schedule makes: its definition's payload and delivery, due at `due_ms`.
Task TaskOf(const ScheduleInfo& s, TaskId id, int64_t due_ms, int64_t now_ms, std::string dedup_key,
            int default_max_attempts) {
  Task task;
  task.id = id;
  task.topic = s.definition.topic;
  task.due_at_ms = due_ms;
  task.created_at_ms = now_ms;
  task.payload = s.definition.task.payload;
  task.payload_is_json = s.definition.task.payload_is_json;
  task.kind = static_cast<DeliveryKind>(s.definition.task.kind);
  task.callback = s.definition.task.callback;
  task.max_attempts =
      s.definition.task.max_attempts != 0 ? s.definition.task.max_attempts : default_max_attempts;
  task.dedup_key = std::move(dedup_key);
  return task;
}

}  // namespace

// --- Reading ----------------------------------------------------------------------------------

Result<std::optional<ScheduleInfo>> Engine::ReadSchedule(const std::string& name) {
  auto record = store_.GetSchedule(name);
  if (!record) return std::unexpected(record.error());
  if (!*record) return std::optional<ScheduleInfo>();
  auto info = FromRecord(**record);
  if (!info) return std::unexpected(info.error());
  return std::optional<ScheduleInfo>(std::move(*info));
}

Result<ScheduleInfo> Engine::GetSchedule(const std::string& name) {
  auto found = ReadSchedule(name);
  if (!found) return std::unexpected(found.error());
  if (!*found) return std::unexpected(ScheduleNotFound(name));
  return std::move(**found);
}

Result<std::vector<ScheduleInfo>> Engine::ListSchedules(const std::string& topic,
                                                        const std::string& after_name,
                                                        size_t limit) {
  auto records = store_.ListSchedules(topic, after_name, limit);
  if (!records) return std::unexpected(records.error());
  std::vector<ScheduleInfo> out;
  out.reserve(records->size());
  for (const store::ScheduleRecord& r : *records) {
    auto info = FromRecord(r);
    if (!info) return std::unexpected(info.error());
    out.push_back(std::move(*info));
  }
  return out;
}

// --- Writing (store worker) -------------------------------------------------------------------

Result<uint64_t> Engine::WriteSchedule(const ScheduleInfo& schedule, uint64_t expected_version) {
  return store_.PutSchedule(ToRecord(schedule), expected_version);
}

void Engine::AddOccurrences(const ScheduleInfo& s, const std::vector<int64_t>& occurrences,
                            const std::vector<TaskId>& ids, int64_t now_ms) {
  if (occurrences.empty()) return;
  std::vector<Task> tasks;
  tasks.reserve(occurrences.size());
  int64_t earliest = kNoDeadline;
  for (size_t i = 0; i < occurrences.size(); ++i) {
    Task task =
        TaskOf(s, ids[i], schedule::JitteredDue(s.name, occurrences[i], s.definition.jitter_ms),
               now_ms, schedule::OccurrenceKey(s.name, s.progress.generation, occurrences[i]),
               config_.default_max_attempts);
    earliest = std::min(earliest, task.due_at_ms);
    tasks.push_back(std::move(task));
  }
  if (auto stored = store_.Add(tasks); !stored) {
    // The pending one is made again at its step (RepairPending); caught-up ones are lost.
    spdlog::warn("msg=\"schedule occurrences not stored\" schedule={} count={} error=\"{}\"",
                 s.name, tasks.size(), stored.error().message);
    return;
  }
  if (started_) scheduler_->Kick(earliest);
}

void Engine::CancelPendingAfter(const ScheduleInfo& old, int64_t now_ms) {
  const schedule::Progress& p = old.progress;
  if (p.next_occurrence_ms == schedule::kNoOccurrence || p.next_occurrence_ms <= now_ms) return;
  if (p.next_task_id != 0) (void)store_.Cancel(p.next_task_id, now_ms);  // delivered: too late
}

void Engine::RefreshNextSchedule(int64_t now_ms) {
  auto next = store_.NextScheduleMs();
  if (!next) {
    spdlog::warn("msg=\"schedules unreadable\" error=\"{}\"", next.error().message);
    next_schedule_ms_ = now_ms + kScheduleRetryMs;
  } else {
    next_schedule_ms_ = *next > now_ms ? *next : now_ms + kStillDueRetryMs;
  }
  if (started_) scheduler_->Kick(next_schedule_ms_);
}

// --- Steps ------------------------------------------------------------------------------------

void Engine::RunScheduleRound() {
  const int64_t now = clock_.NowMs();
  for (int read = 0; read < kMaxReadsPerRound; ++read) {
    auto due = store_.DueSchedules(now, kSchedulesPerRound);
    if (!due) {
      spdlog::warn("msg=\"schedules unreadable\" error=\"{}\"", due.error().message);
      break;
    }
    for (const store::ScheduleRecord& record : *due) {
      auto info = FromRecord(record);
      if (!info) {
        spdlog::error("msg=\"schedule unreadable\" error=\"{}\"", info.error().message);
        continue;
      }
      StepSchedule(*info, now);
    }
    if (due->size() < kSchedulesPerRound) break;
  }
  RefreshNextSchedule(now);
}

// An instance that died between writing a step and adding its task left the pending
// occurrence without one: make it now (its identity makes this harmless if it was made).
void Engine::RepairPending(const ScheduleInfo& s) {
  if (s.progress.next_task_id == 0) return;
  auto task = store_.Get(s.progress.next_task_id);
  if (task || task.error().code != Errc::kNotFound) return;
  spdlog::info("msg=\"schedule occurrence made late\" schedule={} occurrence_ms={}", s.name,
               s.progress.next_occurrence_ms);
  AddOccurrences(s, {s.progress.next_occurrence_ms}, {s.progress.next_task_id}, clock_.NowMs());
}

void Engine::StepSchedule(const ScheduleInfo& s, int64_t now_ms) {
  auto timing = schedule::Timing::Make(s.definition.timing);
  if (!timing) {
    spdlog::error("msg=\"schedule timing invalid\" schedule={} error=\"{}\"", s.name,
                  timing.error().message);
    return;
  }
  RepairPending(s);
  const int64_t pending = s.progress.next_occurrence_ms;
  schedule::Step step = schedule::PlanStep(*timing, s.definition, pending, now_ms);
  ScheduleInfo next = s;
  if (!step.cancel_pending) NoteFired(next.progress, s.progress, now_ms);
  std::vector<TaskId> ids;
  ids.reserve(step.occurrences.size());
  for (int64_t occurrence : step.occurrences) {
    ids.push_back(ids_.Next());
    if (occurrence <= now_ms) {
      next.progress.last_occurrence_ms = occurrence;
      next.progress.last_task_id = ids.back();
    }
  }
  next.progress.next_occurrence_ms = step.next_occurrence_ms;
  next.progress.next_task_id = ids.empty() ? 0 : ids.back();
  next.progress.updated_at_ms = now_ms;
  // Another instance took this step first: it makes the tasks.
  if (!WriteSchedule(next, s.version)) return;
  if (step.cancel_pending && s.progress.next_task_id != 0) {
    (void)store_.Cancel(s.progress.next_task_id, now_ms);  // already delivered: it fired
  }
  AddOccurrences(next, step.occurrences, ids, now_ms);
}

// --- Changes ----------------------------------------------------------------------------------

void Engine::RunScheduleChange(
    std::string name, std::function<Result<ScheduleInfo>(const std::string&, int64_t)> change,
    ScheduleDone done) {
  auto job = [this, name = std::move(name), change = std::move(change), done]() {
    Result<ScheduleInfo> result = std::unexpected(Error{Errc::kInternal, "no attempt"});
    for (int attempt = 0; attempt < kChangeAttempts; ++attempt) {
      result = change(name, clock_.NowMs());
      if (result || result.error().code != Errc::kConflict) break;
    }
    RefreshNextSchedule(clock_.NowMs());
    done(std::move(result));
  };
  if (!worker_->Submit(std::move(job))) done(std::unexpected(Overloaded()));
}

Result<ScheduleInfo> Engine::ChangePut(const std::string& name, const schedule::Definition& def,
                                       int64_t now_ms) {
  auto old = ReadSchedule(name);
  if (!old) return std::unexpected(old.error());
  if (*old && (*old)->definition.SameAs(def)) return std::move(**old);
  ScheduleInfo s{name, def, {}, 0, !*old};
  s.definition.timing.anchor_ms = now_ms;
  auto timing = schedule::Timing::Make(s.definition.timing);
  if (!timing) return std::unexpected(timing.error());
  if (*old) {
    s.progress = (*old)->progress;
    ++s.progress.generation;
    NoteFired(s.progress, (*old)->progress, now_ms);
  } else {
    s.progress.created_at_ms = now_ms;
  }
  s.progress.next_occurrence_ms =
      def.paused ? schedule::kNoOccurrence : schedule::FirstOccurrence(*timing, now_ms);
  s.progress.next_task_id =
      s.progress.next_occurrence_ms != schedule::kNoOccurrence ? ids_.Next() : 0;
  s.progress.updated_at_ms = now_ms;
  auto version = WriteSchedule(s, *old ? (*old)->version : 0);
  if (!version) return std::unexpected(version.error());
  s.version = *version;
  if (*old) CancelPendingAfter(**old, now_ms);
  if (s.progress.next_task_id != 0) {
    AddOccurrences(s, {s.progress.next_occurrence_ms}, {s.progress.next_task_id}, now_ms);
  }
  return s;
}

Result<ScheduleInfo> Engine::ChangePause(const std::string& name, bool pause, int64_t now_ms) {
  auto old = ReadSchedule(name);
  if (!old) return std::unexpected(old.error());
  if (!*old) return std::unexpected(ScheduleNotFound(name));
  if ((*old)->definition.paused == pause) return std::move(**old);
  ScheduleInfo s = **old;
  s.definition.paused = pause;
  ++s.progress.generation;
  NoteFired(s.progress, (*old)->progress, now_ms);
  s.progress.next_occurrence_ms = schedule::kNoOccurrence;
  s.progress.next_task_id = 0;
  if (!pause) {
    auto timing = schedule::Timing::Make(s.definition.timing);
    if (!timing) return std::unexpected(timing.error());
    s.progress.next_occurrence_ms = schedule::FirstOccurrence(*timing, now_ms);
    if (s.progress.next_occurrence_ms != schedule::kNoOccurrence)
      s.progress.next_task_id = ids_.Next();
  }
  s.progress.updated_at_ms = now_ms;
  auto version = WriteSchedule(s, (*old)->version);
  if (!version) return std::unexpected(version.error());
  s.version = *version;
  CancelPendingAfter(**old, now_ms);
  if (s.progress.next_task_id != 0) {
    AddOccurrences(s, {s.progress.next_occurrence_ms}, {s.progress.next_task_id}, now_ms);
  }
  return s;
}

Result<ScheduleInfo> Engine::ChangeDelete(const std::string& name, int64_t now_ms) {
  auto old = ReadSchedule(name);
  if (!old) return std::unexpected(old.error());
  if (!*old) return std::unexpected(ScheduleNotFound(name));
  auto deleted = store_.DeleteSchedule(name);
  if (!deleted) return std::unexpected(deleted.error());
  CancelPendingAfter(**old, now_ms);
  return std::move(**old);
}

void Engine::PutSchedule(std::string name, schedule::Definition definition, ScheduleDone done) {
  RunScheduleChange(
      std::move(name),
      [this, definition = std::move(definition)](const std::string& n, int64_t now) {
        return ChangePut(n, definition, now);
      },
      std::move(done));
}

void Engine::DeleteSchedule(std::string name, ScheduleDone done) {
  RunScheduleChange(
      std::move(name), [this](const std::string& n, int64_t now) { return ChangeDelete(n, now); },
      std::move(done));
}

void Engine::PauseSchedule(std::string name, ScheduleDone done) {
  RunScheduleChange(
      std::move(name),
      [this](const std::string& n, int64_t now) { return ChangePause(n, true, now); },
      std::move(done));
}

void Engine::ResumeSchedule(std::string name, ScheduleDone done) {
  RunScheduleChange(
      std::move(name),
      [this](const std::string& n, int64_t now) { return ChangePause(n, false, now); },
      std::move(done));
}

void Engine::TriggerSchedule(std::string name, std::function<void(Result<TriggeredTask>)> done) {
  auto job = [this, name = std::move(name), done]() {
    const int64_t now = clock_.NowMs();
    auto found = ReadSchedule(name);
    if (!found) return done(std::unexpected(found.error()));
    if (!*found) return done(std::unexpected(ScheduleNotFound(name)));
    ScheduleInfo s = std::move(**found);
    TaskId id = ids_.Next();
    Task task =
        TaskOf(s, id, now, now, schedule::TriggerKey(name, now), config_.default_max_attempts);
    auto stored = store_.Add(std::span<const Task>(&task, 1));
    if (!stored) return done(std::unexpected(stored.error()));
    if (started_) scheduler_->Kick(now);
    // Best effort: a step of another instance may win; the task is made either way.
    s.progress.last_occurrence_ms = now;
    s.progress.last_task_id = stored->front();
    s.progress.updated_at_ms = now;
    (void)WriteSchedule(s, s.version);
    done(TriggeredTask{stored->front(), now});
  };
  if (!worker_->Submit(std::move(job))) done(std::unexpected(Overloaded()));
}

}  // namespace delayq::engine
