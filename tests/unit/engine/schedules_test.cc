// The engine's schedules on the embedded store with a hand-driven clock: each occurrence is
// one task, made when the previous one falls due; restarts apply the catch-up policy.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <set>

#include "engine/engine.h"
#include "engine_fixture.h"

namespace delayq::engine {
namespace {

class ScheduleEngineTest : public EngineFixture {
 protected:
  static schedule::Definition EverySecond(schedule::CatchUp policy = schedule::CatchUp::kLatest) {
    schedule::Definition d;
    d.topic = "ticks";
    d.timing.every_ms = 1000;
    d.catch_up = policy;
    d.task.payload = "tick";
    return d;
  }

  Result<ScheduleInfo> Change(void (Engine::*op)(std::string, Engine::ScheduleDone),
                              const std::string& name) {
    std::promise<Result<ScheduleInfo>> done;
    (engine_.get()->*op)(name, [&](Result<ScheduleInfo> s) { done.set_value(std::move(s)); });
    return done.get_future().get();
  }

  Result<ScheduleInfo> Put(const std::string& name, schedule::Definition d) {
    std::promise<Result<ScheduleInfo>> done;
    engine_->PutSchedule(name, std::move(d),
                         [&](Result<ScheduleInfo> s) { done.set_value(std::move(s)); });
    return done.get_future().get();
  }

  // Occurrence -> how many tasks of it were taken: takes due tasks of `topic` under a lease
  // until `count` were taken (the scheduler promotes due tasks on its own thread). What else
  // exists is checked through the per-state counts.
  std::map<int64_t, int> TakeDueOccurrences(const std::string& topic, size_t count) {
    std::map<int64_t, int> out;
    size_t taken = 0;
    testing::WaitFor(
        [&] {
          std::promise<Result<std::vector<Task>>> done;
          engine_->Claim(topic, 1000, 0, 30'000, [&](Result<std::vector<Task>> tasks) {
            done.set_value(std::move(tasks));
          });
          auto tasks = done.get_future().get();
          EXPECT_TRUE(tasks) << tasks.error().message;
          for (const Task& t : tasks.value_or(std::vector<Task>{})) {
            auto occurrence = schedule::ParseOccurrenceKey(t.dedup_key);
            EXPECT_TRUE(occurrence) << t.dedup_key;
            if (occurrence) ++out[occurrence->occurrence_ms];
            ++taken;
          }
          return taken >= count;
        },
        std::chrono::seconds(5));
    return out;
  }

  std::array<int64_t, 6> Counts(const std::string& topic) {
    auto stats = engine_->Topics(topic);
    if (!stats || stats->empty()) return {};
    return stats->front().by_state;
  }
};

TEST_F(ScheduleEngineTest, CreateMakesTheFirstOccurrenceAsATask) {
  auto s = Put("tick", EverySecond());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->created);
  EXPECT_EQ(s->progress.next_occurrence_ms, kNow + 1000);
  auto task = engine_->Get(s->progress.next_task_id);
  ASSERT_TRUE(task) << task.error().message;
  EXPECT_EQ(task->due_at_ms, kNow + 1000);
  EXPECT_EQ(task->topic, "ticks");
  EXPECT_EQ(task->payload, "tick");
  EXPECT_EQ(task->dedup_key, schedule::OccurrenceKey("tick", 1, kNow + 1000));
  // The same definition again changes nothing.
  auto again = Put("tick", EverySecond());
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->version, s->version);
  EXPECT_EQ(Counts("ticks")[0], 1);
}

TEST_F(ScheduleEngineTest, EachOccurrenceFallingDueMakesTheNextOnce) {
  ASSERT_TRUE(Put("tick", EverySecond()));
  for (int k = 1; k <= 3; ++k) {
    clock_.Set(kNow + k * 1000);
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          auto s = engine_->GetSchedule("tick");
          return s && s->progress.next_occurrence_ms == kNow + (k + 1) * 1000;
        },
        std::chrono::seconds(5)))
        << "step " << k;
  }
  auto s = engine_->GetSchedule("tick");
  EXPECT_EQ(s->progress.last_occurrence_ms, kNow + 3000);
  EXPECT_EQ(TakeDueOccurrences("ticks", 3),
            (std::map<int64_t, int>{{kNow + 1000, 1}, {kNow + 2000, 1}, {kNow + 3000, 1}}));
  EXPECT_EQ(Counts("ticks")[0], 1);  // only the next one waits
}

struct CatchUpCase {
  schedule::CatchUp policy;
  std::map<int64_t, int> fired;  // of the missed kNow + 1..5 s
  int cancelled;
};

// Stopped after kNow (the 1 s occurrence was made), restarted at kNow + 5.5 s: five missed.
TEST_F(ScheduleEngineTest, RestartAppliesTheCatchUpPolicy) {
  const std::vector<CatchUpCase> cases = {
      {schedule::CatchUp::kSkip, {}, 1},
      {schedule::CatchUp::kLatest, {{kNow + 5000, 1}}, 1},
      {schedule::CatchUp::kAll,
       {{kNow + 1000, 1}, {kNow + 2000, 1}, {kNow + 3000, 1}, {kNow + 4000, 1}, {kNow + 5000, 1}},
       0},
  };
  for (const CatchUpCase& c : cases) {
    std::string topic(schedule::CatchUpName(c.policy));
    schedule::Definition d = EverySecond(c.policy);
    d.topic = topic;
    clock_.Set(kNow);
    ASSERT_TRUE(Put(topic, d));
    Close();
    clock_.Set(kNow + 5500);
    Open();
    EXPECT_EQ(TakeDueOccurrences(topic, c.fired.size()), c.fired) << topic;
    EXPECT_EQ(Counts(topic)[static_cast<int>(TaskState::kCancelled)], c.cancelled) << topic;
    auto s = engine_->GetSchedule(topic);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->progress.next_occurrence_ms, kNow + 6000) << topic;
    EXPECT_EQ(Counts(topic)[static_cast<int>(TaskState::kScheduled)], 1) << topic;
  }
}

TEST_F(ScheduleEngineTest, PauseCancelsThePendingAndResumeMakesTheNext) {
  auto s = Put("tick", EverySecond());
  ASSERT_TRUE(s);
  auto paused = Change(&Engine::PauseSchedule, "tick");
  ASSERT_TRUE(paused) << paused.error().message;
  EXPECT_TRUE(paused->definition.paused);
  EXPECT_EQ(paused->progress.next_occurrence_ms, schedule::kNoOccurrence);
  EXPECT_EQ(engine_->Get(s->progress.next_task_id)->state, TaskState::kCancelled);
  // The same occurrence is made again after the resume, as a new task.
  clock_.Set(kNow + 10);
  auto resumed = Change(&Engine::ResumeSchedule, "tick");
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->progress.next_occurrence_ms, kNow + 1000);
  EXPECT_NE(resumed->progress.next_task_id, s->progress.next_task_id);
  EXPECT_EQ(engine_->Get(resumed->progress.next_task_id)->state, TaskState::kScheduled);
}

TEST_F(ScheduleEngineTest, DeleteCancelsThePending) {
  auto s = Put("tick", EverySecond());
  ASSERT_TRUE(s);
  ASSERT_TRUE(Change(&Engine::DeleteSchedule, "tick"));
  EXPECT_EQ(engine_->Get(s->progress.next_task_id)->state, TaskState::kCancelled);
  EXPECT_EQ(engine_->GetSchedule("tick").error().code, Errc::kNotFound);
  EXPECT_EQ(Change(&Engine::DeleteSchedule, "tick").error().code, Errc::kNotFound);
}

TEST_F(ScheduleEngineTest, TriggerMakesATaskNow) {
  ASSERT_TRUE(Put("tick", EverySecond()));
  std::promise<Result<TriggeredTask>> done;
  engine_->TriggerSchedule("tick", [&](Result<TriggeredTask> t) { done.set_value(std::move(t)); });
  auto triggered = done.get_future().get();
  ASSERT_TRUE(triggered) << triggered.error().message;
  EXPECT_EQ(triggered->occurrence_ms, kNow);
  EXPECT_EQ(TakeDueOccurrences("ticks", 1), (std::map<int64_t, int>{{kNow, 1}}));
  EXPECT_EQ(engine_->GetSchedule("tick")->progress.last_task_id, triggered->id);
}

// An instance that died after writing a step but before adding its task: the pending
// occurrence has no task. The next step makes it (once), late rather than never.
TEST_F(ScheduleEngineTest, AMissingPendingTaskIsMadeAtItsStep) {
  auto s = Put("tick", EverySecond());
  ASSERT_TRUE(s);
  Close();
  {
    store::StoreConfig config;
    config.data_dir = dir_.Sub("data");
    auto opened = store::OpenStore(config);
    ASSERT_TRUE(opened);
    ScheduleInfo lost = *s;
    lost.progress.next_occurrence_ms = kNow + 2000;
    lost.progress.next_task_id = s->progress.next_task_id + 1000;  // never added
    store::ScheduleRecord record{"tick", "ticks", kNow + 2000, 0,
                                 schedule::EncodeBody(lost.definition, lost.progress)};
    ASSERT_TRUE((*opened)->PutSchedule(record, s->version));
  }
  clock_.Set(kNow + 2000);
  Open();
  auto occurrences = TakeDueOccurrences("ticks", 2);
  EXPECT_EQ(occurrences, (std::map<int64_t, int>{{kNow + 1000, 1}, {kNow + 2000, 1}}));
  EXPECT_EQ(Counts("ticks")[static_cast<int>(TaskState::kScheduled)], 1);  // kNow + 3 s
}

}  // namespace
}  // namespace delayq::engine
