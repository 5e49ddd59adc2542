// The Store contract: every backend must pass this suite, so that the engine above it cannot
// tell them apart. A backend joins with an INSTANTIATE_TEST_SUITE_P of its own below.

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "store/store.h"
#include "support/redis_server.h"
#include "support/temp_dir.h"
#include "support/test_util.h"
#include "unit/store/store_backends.h"

namespace delayq::store {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

// An instance that died between a cluster add's task script and its last hint step leaves
// the task in its lane but possibly missing from the next-due index (here: removed by
// hand). The purge walk puts it back, so the task is found and delivered.
TEST(RedisClusterHints, PurgeWalkRestoresAHintLostBetweenScriptAndHint) {
  ResetRedisCluster();
  StoreConfig config;
  auto store = OpenRedisCluster("", config);
  ASSERT_TRUE(store) << store.error().message;
  Task task;
  task.id = 7;
  task.topic = "orphaned";
  task.due_at_ms = 1'000;
  task.created_at_ms = 1'000;
  ASSERT_TRUE((*store)->Add(std::span<const Task>(&task, 1)));
  int port = SharedCluster().ports().front();
  testing::RunCommand("redis-cli -c -p " + std::to_string(port) +
                      " ZREM 'dq:{dq}:next:p' orphaned");
  auto before = (*store)->Promote(2'000);
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_TRUE(before->topics_ready.empty()) << "the hint was not removed";

  ASSERT_TRUE((*store)->PurgeFinished(0, 1'000));
  auto after = (*store)->Promote(2'000);
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(after->topics_ready, std::vector<std::string>{"orphaned"});
  auto taken = (*store)->ConsumeDue("orphaned", 10, 2'000);
  ASSERT_TRUE(taken) << taken.error().message;
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ(taken->front().id, 7u);
}

class StoreContract : public BackendTest {
 protected:
  Task Make(const std::string& topic, int64_t due_at_ms, std::string payload = "p") {
    Task task;
    task.id = ++next_id_;
    task.topic = topic;
    task.due_at_ms = due_at_ms;
    task.created_at_ms = kNow;
    task.payload = std::move(payload);
    return task;
  }

  TaskId AddOne(const std::string& topic, int64_t due_at_ms, std::string payload = "p") {
    Task task = Make(topic, due_at_ms, std::move(payload));
    EXPECT_TRUE(store_->Add(std::span<const Task>(&task, 1)));
    return task.id;
  }

  std::vector<TaskId> TakeAll(const std::string& topic, int64_t now_ms) {
    std::vector<TaskId> ids;
    for (;;) {
      auto promoted = store_->Promote(now_ms);
      EXPECT_TRUE(promoted);
      auto taken = store_->ConsumeDue(topic, 100, now_ms);
      EXPECT_TRUE(taken);
      if (!taken || taken->empty()) {
        // The loader may need another round to reach more of the backlog.
        if (promoted && promoted->next_wake_ms <= now_ms) continue;
        return ids;
      }
      for (const Task& task : *taken) ids.push_back(task.id);
    }
  }

  TaskId next_id_ = 1000;
};

TEST_P(StoreContract, AddedTaskCanBeReadBack) {
  TaskId id = AddOne("orders", kNow + 60'000, "{\"uid\":\"111111\"}");
  auto task = store_->Get(id);
  ASSERT_TRUE(task) << task.error().message;
  EXPECT_EQ(task->topic, "orders");
  EXPECT_EQ(task->payload, "{\"uid\":\"111111\"}");
  EXPECT_EQ(task->due_at_ms, kNow + 60'000);
  EXPECT_EQ(task->state, TaskState::kScheduled);
  EXPECT_EQ(store_->Get(id + 1).error().code, Errc::kNotFound);
}

TEST_P(StoreContract, BatchAddWritesEveryTask) {
  // 1,500: more than the Redis add script writes per command (1,000 values).
  std::vector<Task> tasks;
  for (int i = 0; i < 1500; ++i) tasks.push_back(Make("bulk", kNow - i));
  ASSERT_TRUE(store_->Add(tasks));
  for (const Task& task : tasks) EXPECT_TRUE(store_->Get(task.id)) << task.id;
  EXPECT_EQ(TakeAll("bulk", kNow).size(), 1500u);
}

TEST_P(StoreContract, NothingIsTakenBeforeItIsDue) {
  AddOne("t", kNow + 1000);
  ASSERT_TRUE(store_->Promote(kNow));
  EXPECT_TRUE(store_->ConsumeDue("t", 10, kNow)->empty());
  EXPECT_TRUE(store_->ConsumeDue("t", 10, kNow + 999)->empty());
  EXPECT_EQ(store_->ConsumeDue("t", 10, kNow + 1000)->size(), 1u);
}

TEST_P(StoreContract, TakesOldestDueFirstAndMarksDone) {
  TaskId late = AddOne("t", kNow - 10);
  TaskId early = AddOne("t", kNow - 500);
  TaskId middle = AddOne("t", kNow - 100);
  ASSERT_TRUE(store_->Promote(kNow));
  auto first = store_->ConsumeDue("t", 1, kNow);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ(first->front().id, early);
  EXPECT_EQ(first->front().state, TaskState::kDone);
  EXPECT_EQ(store_->Get(early)->state, TaskState::kDone);
  auto rest = store_->ConsumeDue("t", 10, kNow);
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[0].id, middle);
  EXPECT_EQ((*rest)[1].id, late);
  EXPECT_TRUE(store_->ConsumeDue("t", 10, kNow)->empty());  // each task once
}

TEST_P(StoreContract, TopicsAreSeparate) {
  AddOne("a", kNow - 1);
  TaskId b = AddOne("b", kNow - 1);
  ASSERT_TRUE(store_->Promote(kNow));
  auto taken = store_->ConsumeDue("b", 10, kNow);
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ(taken->front().id, b);
  EXPECT_TRUE(store_->ConsumeDue("unknown", 10, kNow)->empty());
}

TEST_P(StoreContract, PromoteReportsTopicsAndTheNextDeadline) {
  AddOne("x", kNow + 100);
  AddOne("y", kNow + 300);
  auto first = store_->Promote(kNow);
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->topics_ready.empty());
  // No later than the first deadline (a shared store may ask to look again sooner).
  EXPECT_GT(first->next_wake_ms, kNow);
  EXPECT_LE(first->next_wake_ms, kNow + 100);
  auto second = store_->Promote(kNow + 100);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->topics_ready, std::vector<std::string>{"x"});
  EXPECT_GT(second->next_wake_ms, kNow + 100);
  EXPECT_LE(second->next_wake_ms, kNow + 300);
}

TEST_P(StoreContract, ConsumeByIdChecksTopicDueTimeAndState) {
  TaskId due = AddOne("t", kNow - 1, "now");
  TaskId later = AddOne("t", kNow + 5000);
  EXPECT_EQ(store_->ConsumeById("t", 999'999, kNow).error().code, Errc::kNotFound);
  EXPECT_EQ(store_->ConsumeById("other", due, kNow).error().code, Errc::kNotFound);
  EXPECT_EQ(store_->ConsumeById("t", later, kNow).error().code, Errc::kNotDue);
  auto taken = store_->ConsumeById("t", due, kNow);
  ASSERT_TRUE(taken) << taken.error().message;
  EXPECT_EQ(taken->payload, "now");
  EXPECT_EQ(store_->ConsumeById("t", due, kNow).error().code, Errc::kNotFound);
  // The task taken by id is not handed out again by topic.
  ASSERT_TRUE(store_->Promote(kNow));
  EXPECT_TRUE(store_->ConsumeDue("t", 10, kNow)->empty());
}

TEST_P(StoreContract, TasksBeyondTheWindowStayOnDiskUntilTheirTimeComes) {
  config_.near_window_ms = 1000;
  Reopen();
  for (int i = 0; i < 50; ++i) AddOne("far", kNow + 60'000 + i);
  ASSERT_TRUE(store_->Promote(kNow));
  if (GetParam().near_window) {
    EXPECT_EQ(store_->Stats().window_scheduled, 0u);  // nothing of the backlog in memory
    auto near = store_->Promote(kNow + 59'500);
    ASSERT_TRUE(near);
    EXPECT_EQ(store_->Stats().window_scheduled, 50u);
  }
  EXPECT_TRUE(TakeAll("far", kNow + 59'999).empty());
  EXPECT_EQ(TakeAll("far", kNow + 60'049).size(), 50u);
}

TEST_P(StoreContract, WindowMemoryIsBoundedAndEverythingStillFires) {
  config_.near_window_max_tasks = 1000;
  Reopen();
  std::vector<Task> tasks;
  for (int i = 0; i < 5000; ++i) tasks.push_back(Make("big", kNow - 5000 + i));
  ASSERT_TRUE(store_->Add(tasks));
  Reopen();  // the backlog is read from disk, not from what Add put in memory
  ASSERT_TRUE(store_->Promote(kNow));
  StoreStats stats = store_->Stats();
  if (GetParam().near_window) {
    EXPECT_LE(stats.window_scheduled + stats.window_ready, 1000u);
  }
  auto ids = TakeAll("big", kNow);
  ASSERT_EQ(ids.size(), 5000u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));  // oldest due first, across slices
}

TEST_P(StoreContract, SurvivesReopenAndDoesNotRedeliverConsumedTasks) {
  TaskId consumed = AddOne("t", kNow - 100);
  ASSERT_TRUE(store_->Promote(kNow));
  ASSERT_EQ(store_->ConsumeDue("t", 1, kNow)->front().id, consumed);
  TaskId pending = AddOne("t", kNow - 50);
  TaskId future = AddOne("t", kNow + 100'000);
  Reopen();
  EXPECT_EQ(store_->Get(consumed)->state, TaskState::kDone);
  EXPECT_EQ(TakeAll("t", kNow), std::vector<TaskId>{pending});
  EXPECT_EQ(store_->Get(future)->state, TaskState::kScheduled);
  auto max_id = store_->MaxTaskId();
  ASSERT_TRUE(max_id);
  EXPECT_EQ(*max_id, future);
}

TEST_P(StoreContract, PurgeDeletesOnlyFinishedTasksPastTheCutoff) {
  TaskId done = AddOne("t", kNow - 10);
  TaskId waiting = AddOne("t", kNow + 10'000);
  ASSERT_TRUE(store_->Promote(kNow));
  ASSERT_EQ(store_->ConsumeDue("t", 10, kNow)->size(), 1u);
  EXPECT_EQ(*store_->PurgeFinished(kNow, 100), 0u);  // finished at kNow: not before kNow
  EXPECT_EQ(*store_->PurgeFinished(kNow + 1, 100), 1u);
  EXPECT_EQ(store_->Get(done).error().code, Errc::kNotFound);
  EXPECT_TRUE(store_->Get(waiting));
  EXPECT_EQ(*store_->PurgeFinished(kNow + 1'000'000, 100), 0u);
}

TEST_P(StoreContract, PurgeRespectsItsLimit) {
  for (int i = 0; i < 30; ++i) AddOne("t", kNow - 100 + i);
  ASSERT_EQ(TakeAll("t", kNow).size(), 30u);
  EXPECT_EQ(*store_->PurgeFinished(kNow + 1, 20), 20u);
  EXPECT_EQ(*store_->PurgeFinished(kNow + 1, 20), 10u);
}

TEST_P(StoreContract, SettleAcksAndNacksManyLeasesAsAckAndNackWould) {
  std::vector<Task> tasks;
  for (int i = 0; i < 5; ++i) tasks.push_back(Make("t", kNow - 10 + i));
  tasks[4].max_attempts = 1;  // its nack makes it dead
  ASSERT_TRUE(store_->Add(tasks));
  ASSERT_TRUE(store_->Promote(kNow));
  auto claimed = store_->ClaimDue("t", DeliveryKind::kPull, 10, kNow, kNow + 60'000);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 5u);
  const std::vector<Task>& c = *claimed;  // oldest due first: c[i] is tasks[i]
  std::vector<Settlement> batch = {
      {c[0].id, c[0].lease_token, true, 0, {}},
      {c[1].id, c[1].lease_token, false, kNow + 5'000, "busy"},
      {c[2].id, c[2].lease_token + 1, true, 0, {}},  // not its lease
      {c[0].id, c[0].lease_token, true, 0, {}},      // settled earlier in the same call
      {999'999, 1, true, 0, {}},                     // unknown
      {c[3].id, c[3].lease_token, true, 0, {}},
      {c[4].id, c[4].lease_token, false, kNow + 5'000, "gone"},
  };
  std::vector<Result<Task>> results = store_->Settle(batch, kNow + 1);
  ASSERT_EQ(results.size(), batch.size());
  ASSERT_TRUE(results[0]);
  EXPECT_EQ(results[0]->state, TaskState::kDone);
  ASSERT_TRUE(results[1]);
  EXPECT_EQ(results[1]->state, TaskState::kScheduled);
  EXPECT_EQ(results[2].error().code, Errc::kConflict);
  EXPECT_EQ(results[3].error().code, Errc::kConflict);
  EXPECT_EQ(results[4].error().code, Errc::kNotFound);
  ASSERT_TRUE(results[5]);
  EXPECT_EQ(results[5]->state, TaskState::kDone);
  ASSERT_TRUE(results[6]);
  EXPECT_EQ(results[6]->state, TaskState::kDead);

  Reopen();  // what was written, not what was returned
  EXPECT_EQ(store_->Get(c[0].id)->state, TaskState::kDone);
  EXPECT_EQ(store_->Get(c[1].id)->state, TaskState::kScheduled);
  EXPECT_EQ(store_->Get(c[1].id)->last_error, "busy");
  EXPECT_EQ(store_->Get(c[2].id)->state, TaskState::kLeased);
  EXPECT_EQ(store_->Get(c[3].id)->state, TaskState::kDone);
  EXPECT_EQ(store_->Get(c[4].id)->state, TaskState::kDead);
  auto stats = store_->Topics("t", kNow + 1);
  ASSERT_TRUE(stats);
  ASSERT_EQ(stats->size(), 1u);
  const auto& by_state = stats->front().by_state;
  EXPECT_EQ(by_state[static_cast<int>(TaskState::kDone)], 2);
  EXPECT_EQ(by_state[static_cast<int>(TaskState::kScheduled)], 1);
  EXPECT_EQ(by_state[static_cast<int>(TaskState::kLeased)], 1);
  EXPECT_EQ(by_state[static_cast<int>(TaskState::kDead)], 1);
  // The nacked task is due again at its retry time, and only then.
  EXPECT_TRUE(TakeAll("t", kNow + 4'999).empty());
  EXPECT_EQ(TakeAll("t", kNow + 5'000), std::vector<TaskId>{c[1].id});
}

// A consumer's batch acknowledgement is one Settle: each entry is refused exactly as the single
// Ack or Nack of it is (same category, same message), and the refusals change nothing, so the
// single calls made afterwards on the same entries are the reference.
TEST_P(StoreContract, SettleRefusesEachEntryWithTheSingleCallsCodeAndMessage) {
  std::vector<Task> tasks;
  for (int i = 0; i < 4; ++i) tasks.push_back(Make("mix", kNow - 10 + i));
  Task later = Make("mix", kNow + 600'000);  // scheduled: never leased
  tasks.push_back(later);
  ASSERT_TRUE(store_->Add(tasks));
  ASSERT_TRUE(store_->Promote(kNow));
  auto claimed = store_->ClaimDue("mix", DeliveryKind::kPull, 10, kNow, kNow + 60'000);
  ASSERT_TRUE(claimed) << claimed.error().message;
  ASSERT_EQ(claimed->size(), 4u);
  const std::vector<Task>& c = *claimed;
  ASSERT_EQ(store_->Ack(c[3].id, c[3].lease_token, kNow)->state, TaskState::kDone);
  const TaskId unknown = 999'999;
  std::vector<Settlement> batch = {
      {c[0].id, c[0].lease_token, true, 0, {}},               // good ack
      {c[1].id, c[1].lease_token + 1, true, 0, {}},           // stale lease
      {unknown, 5, true, 0, {}},                              // unknown id
      {later.id, 5, false, kNow + 10, "nacked by consumer"},  // scheduled: wrong state
      {c[3].id, c[3].lease_token, true, 0, {}},               // done already
      {c[2].id, c[2].lease_token, false, kNow + 5'000, "nacked by consumer"},  // good nack
      {c[1].id, c[1].lease_token + 2, false, kNow, "nacked by consumer"},      // stale nack
  };
  std::vector<Result<Task>> settled = store_->Settle(batch, kNow + 1);
  ASSERT_EQ(settled.size(), batch.size());
  ASSERT_TRUE(settled[0]) << settled[0].error().message;
  EXPECT_EQ(settled[0]->state, TaskState::kDone);
  ASSERT_TRUE(settled[5]) << settled[5].error().message;
  EXPECT_EQ(settled[5]->state, TaskState::kScheduled);
  EXPECT_EQ(settled[5]->due_at_ms, kNow + 5'000);
  EXPECT_EQ(settled[5]->last_error, "nacked by consumer");

  for (size_t i : {1u, 2u, 3u, 4u, 6u}) {
    const Settlement& s = batch[i];
    ASSERT_FALSE(settled[i]) << "entry " << i << " was applied";
    Result<Task> single =
        s.ok ? store_->Ack(s.id, s.lease_token, kNow + 1)
             : store_->Nack(s.id, s.lease_token, s.retry_at_ms, s.reason, kNow + 1);
    ASSERT_FALSE(single) << "entry " << i;
    EXPECT_EQ(settled[i].error().code, single.error().code) << "entry " << i;
    EXPECT_EQ(settled[i].error().message, single.error().message) << "entry " << i;
  }
  EXPECT_EQ(settled[1].error().code, Errc::kConflict);
  EXPECT_EQ(settled[1].error().message,
            "lease is stale: task " + std::to_string(c[1].id) +
                " is leased under another lease (the lease expired, or the task was already "
                "acked or nacked)");
  EXPECT_EQ(settled[2].error().code, Errc::kNotFound);
  EXPECT_EQ(settled[2].error().message, "task 999999 not found");
  EXPECT_EQ(settled[3].error().message,
            "lease is stale: task " + std::to_string(later.id) +
                " is scheduled (the lease expired, or the task was already acked or nacked)");
  EXPECT_EQ(settled[4].error().code, Errc::kConflict);

  Reopen();  // the refused entries changed nothing
  EXPECT_EQ(store_->Get(c[1].id)->state, TaskState::kLeased);
  EXPECT_EQ(store_->Get(c[1].id)->lease_token, c[1].lease_token);
  EXPECT_EQ(store_->Get(later.id)->state, TaskState::kScheduled);
  EXPECT_EQ(store_->Get(later.id)->due_at_ms, kNow + 600'000);
  EXPECT_EQ(store_->Get(c[0].id)->state, TaskState::kDone);
  EXPECT_EQ(store_->Get(c[2].id)->state, TaskState::kScheduled);
}

TEST_P(StoreContract, ClaimLeasesAndAckCompletes) {
  TaskId id = AddOne("jobs", kNow - 5);
  ASSERT_TRUE(store_->Promote(kNow));
  auto claimed = store_->ClaimDue("jobs", DeliveryKind::kPull, 10, kNow, kNow + 30'000);
  ASSERT_TRUE(claimed) << claimed.error().message;
  ASSERT_EQ(claimed->size(), 1u);
  const Task& task = claimed->front();
  EXPECT_EQ(task.id, id);
  EXPECT_EQ(task.state, TaskState::kLeased);
  EXPECT_EQ(task.attempts, 1u);
  EXPECT_EQ(task.lease_until_ms, kNow + 30'000);
  EXPECT_NE(task.lease_token, 0u);
  EXPECT_TRUE(store_->ClaimDue("jobs", DeliveryKind::kPull, 10, kNow + 1, kNow + 30'000)->empty());
  EXPECT_EQ(store_->Ack(id, task.lease_token + 1, kNow).error().code, Errc::kConflict);
  auto acked = store_->Ack(id, task.lease_token, kNow + 2);
  ASSERT_TRUE(acked) << acked.error().message;
  EXPECT_EQ(acked->state, TaskState::kDone);
  EXPECT_EQ(store_->Get(id)->state, TaskState::kDone);
  EXPECT_EQ(store_->Ack(id, task.lease_token, kNow).error().code, Errc::kConflict);
  EXPECT_EQ(store_->Ack(id + 999, 1, kNow).error().code, Errc::kNotFound);
}

TEST_P(StoreContract, NackRetriesThenDeadThenRedrive) {
  Task task = Make("jobs", kNow - 5);
  task.max_attempts = 2;
  ASSERT_TRUE(store_->Add(std::span<const Task>(&task, 1)));
  ASSERT_TRUE(store_->Promote(kNow));
  auto first = store_->ClaimDue("jobs", DeliveryKind::kPull, 1, kNow, kNow + 30'000);
  ASSERT_EQ(first->size(), 1u);
  auto nacked = store_->Nack(task.id, first->front().lease_token, kNow + 100, "boom", kNow);
  ASSERT_TRUE(nacked) << nacked.error().message;
  EXPECT_EQ(nacked->state, TaskState::kScheduled);
  EXPECT_EQ(nacked->due_at_ms, kNow + 100);
  EXPECT_EQ(nacked->last_error, "boom");
  ASSERT_TRUE(store_->Promote(kNow + 1));
  EXPECT_TRUE(store_->ClaimDue("jobs", DeliveryKind::kPull, 1, kNow + 1, kNow + 30'000)->empty());
  ASSERT_TRUE(store_->Promote(kNow + 100));
  auto second = store_->ClaimDue("jobs", DeliveryKind::kPull, 1, kNow + 100, kNow + 30'000);
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ(second->front().attempts, 2u);
  auto dead =
      store_->Nack(task.id, second->front().lease_token, kNow + 200, "boom again", kNow + 100);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->state, TaskState::kDead);
  auto listed = store_->ListDead("jobs", 0, 10);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().id, task.id);
  EXPECT_TRUE(store_->ListDead("jobs", task.id, 10)->empty());
  EXPECT_EQ(store_->Redrive(task.id + 999, kNow).error().code, Errc::kNotFound);
  auto redriven = store_->Redrive(task.id, kNow + 300);
  ASSERT_TRUE(redriven) << redriven.error().message;
  EXPECT_EQ(redriven->state, TaskState::kScheduled);
  EXPECT_EQ(redriven->attempts, 0u);
  EXPECT_TRUE(store_->ListDead("jobs", 0, 10)->empty());
  EXPECT_EQ(store_->Redrive(task.id, kNow + 300).error().code, Errc::kConflict);
  ASSERT_TRUE(store_->Promote(kNow + 300));
  EXPECT_EQ(store_->ClaimDue("jobs", DeliveryKind::kPull, 1, kNow + 300, kNow + 30'000)->size(),
            1u);
}

TEST_P(StoreContract, ExpiredLeaseIsDeliveredAgainWithANewToken) {
  TaskId id = AddOne("jobs", kNow - 5);
  ASSERT_TRUE(store_->Promote(kNow));
  auto first = store_->ClaimDue("jobs", DeliveryKind::kPull, 1, kNow, kNow + 1000);
  ASSERT_EQ(first->size(), 1u);
  ASSERT_TRUE(store_->ExpireLeases(kNow + 999, 100));
  ASSERT_TRUE(store_->Promote(kNow + 999));
  EXPECT_TRUE(store_->ClaimDue("jobs", DeliveryKind::kPull, 1, kNow + 999, kNow + 5000)->empty());
  ASSERT_TRUE(store_->ExpireLeases(kNow + 1000, 100));
  ASSERT_TRUE(store_->Promote(kNow + 1000));
  auto again = store_->ClaimDue("jobs", DeliveryKind::kPull, 1, kNow + 1000, kNow + 5000);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(again->front().id, id);
  EXPECT_EQ(again->front().attempts, 2u);
  EXPECT_NE(again->front().lease_token, first->front().lease_token);
  EXPECT_EQ(store_->Ack(id, first->front().lease_token, kNow + 1001).error().code, Errc::kConflict);
  EXPECT_TRUE(store_->Ack(id, again->front().lease_token, kNow + 1001));
}

// The outcome of a call whose lease already ran out must not end the lease: the task has
// moved on (due again, or claimed by another delivery) and that state stands.
TEST_P(StoreContract, OutcomeAfterTheLeaseExpiredIsRefusedAndChangesNothing) {
  Task task = Make("hooks", kNow - 5);
  task.kind = DeliveryKind::kCallback;
  task.callback = R"({"url":"http://127.0.0.1:1/cb"})";
  ASSERT_TRUE(store_->Add(std::span<const Task>(&task, 1)));
  ASSERT_TRUE(store_->Promote(kNow));
  auto first = store_->ClaimDue("hooks", DeliveryKind::kCallback, 1, kNow, kNow + 1000);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 1u);
  ASSERT_TRUE(store_->ExpireLeases(kNow + 1000, 100));
  std::vector<Settlement> late{{task.id, first->front().lease_token, true, 0, ""}};
  if (GetParam().near_window) {
    // The embedded store ends an expired lease in ExpireLeases (Redis: at the next claim).
    auto refused = store_->Settle(late, kNow + 1001);
    ASSERT_EQ(refused.size(), 1u);
    ASSERT_FALSE(refused[0]);
    EXPECT_EQ(refused[0].error().code, Errc::kConflict);
    EXPECT_EQ(store_->Get(task.id)->state, TaskState::kScheduled);
  }

  ASSERT_TRUE(store_->Promote(kNow + 1001));
  auto again = store_->ClaimDue("hooks", DeliveryKind::kCallback, 1, kNow + 1001, kNow + 5000);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(again->front().attempts, 2u);
  auto stale = store_->Settle(late, kNow + 1002);
  EXPECT_EQ(stale[0].error().code, Errc::kConflict);
  std::vector<Settlement> current{{task.id, again->front().lease_token, true, 0, ""}};
  auto done = store_->Settle(current, kNow + 1003);
  ASSERT_TRUE(done[0]) << done[0].error().message;
  EXPECT_EQ(done[0]->state, TaskState::kDone);
  EXPECT_EQ(done[0]->attempts, 2u);
  EXPECT_EQ(store_->Get(task.id)->state, TaskState::kDone);
}

TEST_P(StoreContract, ExtendedLeaseIsNotExpiredAtItsOldDeadline) {
  TaskId id = AddOne("jobs", kNow - 5);
  ASSERT_TRUE(store_->Promote(kNow));
  auto first = store_->ClaimDue("jobs", DeliveryKind::kPull, 1, kNow, kNow + 1000);
  ASSERT_EQ(first->size(), 1u);
  uint64_t token = first->front().lease_token;
  EXPECT_EQ(store_->ExtendLease(id, token + 1, kNow + 5000, kNow + 10).error().code,
            Errc::kConflict);
  EXPECT_EQ(store_->ExtendLease(id + 999, token, kNow + 5000, kNow + 10).error().code,
            Errc::kNotFound);
  auto extended = store_->ExtendLease(id, token, kNow + 5000, kNow + 500);
  ASSERT_TRUE(extended) << extended.error().message;
  EXPECT_EQ(extended->lease_until_ms, kNow + 5000);
  EXPECT_EQ(extended->lease_token, token);
  EXPECT_EQ(extended->attempts, 1u);
  EXPECT_EQ(store_->Get(id)->lease_until_ms, kNow + 5000);

  // Past the old deadline the task stays leased: no second delivery.
  ASSERT_TRUE(store_->ExpireLeases(kNow + 1000, 100));
  ASSERT_TRUE(store_->Promote(kNow + 1000));
  EXPECT_TRUE(store_->ClaimDue("jobs", DeliveryKind::kPull, 1, kNow + 1000, kNow + 9000)->empty());
  EXPECT_EQ(store_->Get(id)->state, TaskState::kLeased);

  // Past the new one, an extension is refused and the task is delivered again.
  EXPECT_EQ(store_->ExtendLease(id, token, kNow + 9000, kNow + 5000).error().code, Errc::kConflict);
  ASSERT_TRUE(store_->ExpireLeases(kNow + 5000, 100));
  ASSERT_TRUE(store_->Promote(kNow + 5000));
  auto again = store_->ClaimDue("jobs", DeliveryKind::kPull, 1, kNow + 5000, kNow + 9000);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(again->front().attempts, 2u);
  EXPECT_EQ(store_->ExtendLease(id, token, kNow + 9500, kNow + 5001).error().code, Errc::kConflict);
  EXPECT_TRUE(store_->Ack(id, again->front().lease_token, kNow + 5002));
  EXPECT_EQ(
      store_->ExtendLease(id, again->front().lease_token, kNow + 9500, kNow + 5003).error().code,
      Errc::kConflict);
}

TEST_P(StoreContract, ExtendedLeaseSurvivesReopen) {
  TaskId id = AddOne("jobs", kNow - 5);
  ASSERT_TRUE(store_->Promote(kNow));
  auto first = store_->ClaimDue("jobs", DeliveryKind::kPull, 1, kNow, kNow + 1000);
  ASSERT_EQ(first->size(), 1u);
  ASSERT_TRUE(store_->ExtendLease(id, first->front().lease_token, kNow + 5000, kNow + 10));
  Reopen();
  ASSERT_TRUE(store_->ExpireLeases(kNow + 2000, 100));
  ASSERT_TRUE(store_->Promote(kNow + 2000));
  EXPECT_TRUE(store_->ClaimDue("jobs", DeliveryKind::kPull, 1, kNow + 2000, kNow + 9000)->empty());
  EXPECT_TRUE(store_->Ack(id, first->front().lease_token, kNow + 2001));
}

TEST_P(StoreContract, CancelAndRescheduleOnlyScheduledTasks) {
  TaskId cancelled = AddOne("t", kNow + 1000);
  TaskId moved = AddOne("t", kNow + 1000);
  TaskId leased = AddOne("t", kNow - 1);
  auto cancel = store_->Cancel(cancelled, kNow);
  ASSERT_TRUE(cancel) << cancel.error().message;
  EXPECT_EQ(cancel->state, TaskState::kCancelled);
  EXPECT_TRUE(store_->Cancel(cancelled, kNow));  // again: no change, no error
  EXPECT_EQ(store_->Reschedule(cancelled, kNow, kNow).error().code, Errc::kConflict);
  auto resched = store_->Reschedule(moved, kNow + 5000, kNow);
  ASSERT_TRUE(resched) << resched.error().message;
  EXPECT_EQ(resched->due_at_ms, kNow + 5000);
  ASSERT_TRUE(store_->Promote(kNow));
  auto claimed = store_->ClaimDue("t", DeliveryKind::kPull, 10, kNow, kNow + 30'000);
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(claimed->front().id, leased);
  EXPECT_EQ(store_->Cancel(leased, kNow).error().code, Errc::kConflict);
  EXPECT_EQ(store_->Cancel(999'999, kNow).error().code, Errc::kNotFound);
  ASSERT_TRUE(store_->Promote(kNow + 1000));
  EXPECT_TRUE(store_->ClaimDue("t", DeliveryKind::kPull, 10, kNow + 1000, kNow + 30'000)->empty());
  ASSERT_TRUE(store_->Promote(kNow + 5000));
  auto later = store_->ClaimDue("t", DeliveryKind::kPull, 10, kNow + 5000, kNow + 30'000);
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ(later->front().id, moved);
}

TEST_P(StoreContract, DedupKeyReturnsTheExistingTaskPerTopic) {
  Task a = Make("t", kNow + 1000);
  a.dedup_key = "order-1";
  Task b = Make("t", kNow + 2000);
  b.dedup_key = "order-1";
  Task other = Make("u", kNow + 1000);
  other.dedup_key = "order-1";
  std::vector<Task> batch{a, b, other};
  auto ids = store_->Add(batch);
  ASSERT_TRUE(ids) << ids.error().message;
  EXPECT_EQ(*ids, (std::vector<TaskId>{a.id, a.id, other.id}));
  Task again = Make("t", kNow);
  again.dedup_key = "order-1";
  EXPECT_EQ(*store_->Add(std::span<const Task>(&again, 1)), std::vector<TaskId>{a.id});
  EXPECT_EQ(store_->Get(b.id).error().code, Errc::kNotFound);
  EXPECT_EQ(store_->Get(again.id).error().code, Errc::kNotFound);
}

TEST_P(StoreContract, CallbackTasksHaveTheirOwnLane) {
  Task callback = Make("hooks", kNow - 1);
  callback.kind = DeliveryKind::kCallback;
  callback.callback = R"({"url":"http://127.0.0.1:1/x"})";
  ASSERT_TRUE(store_->Add(std::span<const Task>(&callback, 1)));
  auto promoted = store_->Promote(kNow);
  ASSERT_TRUE(promoted);
  EXPECT_EQ(promoted->callback_topics_ready, std::vector<std::string>{"hooks"});
  EXPECT_TRUE(store_->HasDue("hooks", DeliveryKind::kCallback, kNow));
  EXPECT_FALSE(store_->HasDue("hooks", DeliveryKind::kPull, kNow));
  EXPECT_TRUE(store_->ConsumeDue("hooks", 10, kNow)->empty());
  auto claimed = store_->ClaimDue("hooks", DeliveryKind::kCallback, 10, kNow, kNow + 70'000);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ(claimed->front().state, TaskState::kDelivering);
  EXPECT_EQ(claimed->front().callback, callback.callback);
  EXPECT_FALSE(store_->HasDue("hooks", DeliveryKind::kCallback, kNow));
}

// Every backend refuses a call on a task in the wrong state with the same words: the rules
// and the messages are queue/transitions.h, whichever backend checked them.
TEST_P(StoreContract, RefusalsAreWordedAlikeOnEveryBackend) {
  TaskId scheduled = AddOne("w", kNow + 60'000);
  TaskId cancelled = AddOne("w", kNow + 60'000);
  ASSERT_TRUE(store_->Cancel(cancelled, kNow));
  Task dead_task = Make("w", kNow - 3);
  dead_task.max_attempts = 1;
  ASSERT_TRUE(store_->Add(std::span<const Task>(&dead_task, 1)));
  TaskId done = AddOne("w", kNow - 2);
  TaskId leased = AddOne("w", kNow - 1);
  Task callback = Make("w", kNow - 1);
  callback.kind = DeliveryKind::kCallback;
  callback.callback = R"({"url":"http://127.0.0.1:1/x"})";
  ASSERT_TRUE(store_->Add(std::span<const Task>(&callback, 1)));
  ASSERT_TRUE(store_->Promote(kNow));
  auto pulled = store_->ClaimDue("w", DeliveryKind::kPull, 3, kNow, kNow + 30'000);
  ASSERT_TRUE(pulled);
  ASSERT_EQ(pulled->size(), 3u);
  std::map<TaskId, uint64_t> token;
  for (const Task& task : *pulled) token[task.id] = task.lease_token;
  ASSERT_EQ(store_->Nack(dead_task.id, token[dead_task.id], kNow, "boom", kNow)->state,
            TaskState::kDead);
  ASSERT_EQ(store_->Ack(done, token[done], kNow)->state, TaskState::kDone);
  auto delivering = store_->ClaimDue("w", DeliveryKind::kCallback, 1, kNow, kNow + 30'000);
  ASSERT_TRUE(delivering);
  ASSERT_EQ(delivering->size(), 1u);
  uint64_t callback_token = delivering->front().lease_token;
  TaskId dead = dead_task.id;
  TaskId missing = 999'999;

  auto refusal = [](const Result<Task>& result) {
    if (result) return std::string("(allowed)");
    return std::string(result.error().code == Errc::kConflict   ? "409 "
                       : result.error().code == Errc::kNotFound ? "404 "
                                                                : "other ") +
           result.error().message;
  };
  auto name = [](TaskId id) { return "task " + std::to_string(id); };
  const std::string lease_tail = " (the lease expired, or the task was already acked or nacked)";
  struct State {
    TaskId id;
    std::string word;
  };
  const std::vector<State> not_held{
      {scheduled, "scheduled"}, {done, "done"}, {cancelled, "cancelled"}, {dead, "dead"}};
  for (const State& s : not_held) {
    std::string want = "409 lease is stale: " + name(s.id) + " is " + s.word + lease_tail;
    EXPECT_EQ(refusal(store_->Ack(s.id, 7, kNow)), want);
    EXPECT_EQ(refusal(store_->Nack(s.id, 7, kNow + 10, "x", kNow)), want);
    EXPECT_EQ(refusal(store_->ExtendLease(s.id, 7, kNow + 90'000, kNow)), want);
  }
  for (auto [id, word] : std::vector<std::pair<TaskId, std::string>>{{leased, "leased"},
                                                                     {callback.id, "delivering"}}) {
    std::string want =
        "409 lease is stale: " + name(id) + " is " + word + " under another lease" + lease_tail;
    EXPECT_EQ(refusal(store_->Ack(id, 7, kNow)), want);
    EXPECT_EQ(refusal(store_->Nack(id, 7, kNow + 10, "x", kNow)), want);
    EXPECT_EQ(refusal(store_->ExtendLease(id, 7, kNow + 90'000, kNow)), want);
  }
  EXPECT_EQ(refusal(store_->ExtendLease(callback.id, callback_token, kNow + 90'000, kNow)),
            "409 lease is stale: " + name(callback.id) +
                " is delivering (only a pulled task's lease can be extended)");
  EXPECT_EQ(refusal(store_->ExtendLease(leased, token[leased], kNow + 90'000, kNow + 30'000)),
            "409 lease is stale: the lease of " + name(leased) + " expired at " +
                std::to_string(kNow + 30'000) + " (the task may be delivered again)");
  {
    std::vector<Settlement> settlements{{scheduled, 7, true, 0, {}},
                                        {leased, 7, false, kNow + 10, "x"}};
    auto settled = store_->Settle(settlements, kNow);
    ASSERT_EQ(settled.size(), 2u);
    EXPECT_EQ(refusal(settled[0]),
              "409 lease is stale: " + name(scheduled) + " is scheduled" + lease_tail);
    EXPECT_EQ(refusal(settled[1]), "409 lease is stale: " + name(leased) +
                                       " is leased under another lease" + lease_tail);
  }

  const std::vector<State> not_scheduled{{leased, "leased (already delivered)"},
                                         {callback.id, "delivering (already delivered)"},
                                         {done, "done"},
                                         {dead, "dead"}};
  for (const State& s : not_scheduled) {
    EXPECT_EQ(refusal(store_->Cancel(s.id, kNow)),
              "409 " + name(s.id) + " cannot be cancelled: it is " + s.word);
    EXPECT_EQ(refusal(store_->Reschedule(s.id, kNow + 5, kNow)),
              "409 " + name(s.id) + " cannot be rescheduled: it is " + s.word);
  }
  EXPECT_EQ(refusal(store_->Reschedule(cancelled, kNow + 5, kNow)),
            "409 " + name(cancelled) + " cannot be rescheduled: it is cancelled");

  for (const State& s : std::vector<State>{{scheduled, "scheduled"},
                                           {leased, "leased"},
                                           {callback.id, "delivering"},
                                           {done, "done"},
                                           {cancelled, "cancelled"}}) {
    EXPECT_EQ(refusal(store_->Redrive(s.id, kNow)),
              "409 " + name(s.id) + " is " + s.word + "; only dead tasks can be redriven");
  }

  std::string gone = "404 " + name(missing) + " not found";
  EXPECT_EQ(refusal(store_->Ack(missing, 7, kNow)), gone);
  EXPECT_EQ(refusal(store_->Nack(missing, 7, kNow, "x", kNow)), gone);
  EXPECT_EQ(refusal(store_->ExtendLease(missing, 7, kNow + 5, kNow)), gone);
  EXPECT_EQ(refusal(store_->Cancel(missing, kNow)), gone);
  EXPECT_EQ(refusal(store_->Reschedule(missing, kNow + 5, kNow)), gone);
  EXPECT_EQ(refusal(store_->Redrive(missing, kNow)), gone);
}

TEST_P(StoreContract, TopicStatsCountEachState) {
  AddOne("s", kNow + 10'000);
  TaskId leased = AddOne("s", kNow - 10);
  TaskId done = AddOne("s", kNow - 20);
  ASSERT_TRUE(store_->Promote(kNow));
  ASSERT_EQ(store_->ConsumeById("s", done, kNow)->id, done);
  ASSERT_EQ(store_->ClaimDue("s", DeliveryKind::kPull, 1, kNow, kNow + 30'000)->front().id, leased);
  auto stats = store_->Topics("s", kNow);
  ASSERT_TRUE(stats) << stats.error().message;
  ASSERT_EQ(stats->size(), 1u);
  const TopicStats& s = stats->front();
  EXPECT_EQ(s.topic, "s");
  EXPECT_EQ(s.by_state[static_cast<int>(TaskState::kScheduled)], 1);
  EXPECT_EQ(s.by_state[static_cast<int>(TaskState::kLeased)], 1);
  EXPECT_EQ(s.by_state[static_cast<int>(TaskState::kDone)], 1);
  auto all = store_->Topics("", kNow);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
}

TEST_P(StoreContract, EmptyStoreHasMaxIdZero) { EXPECT_EQ(*store_->MaxTaskId(), 0u); }

// One instantiation per backend, so that each is its own suite (and CTest test, one process
// with one server or cluster for all of its cases).
INSTANTIATE_TEST_SUITE_P(Rocksdb, StoreContract, ::testing::Values(RocksdbBackend()), BackendName);
INSTANTIATE_TEST_SUITE_P(Redis, StoreContract, ::testing::Values(RedisBackend()), BackendName);
INSTANTIATE_TEST_SUITE_P(RedisCluster, StoreContract, ::testing::Values(RedisClusterBackend()),
                         BackendName);

}  // namespace
}  // namespace delayq::store
