// The dead-tasks-in-bulk part of the Store contract, on every backend: a bounded slice of a
// topic's dead tasks in id order per call, "more" while some remain, other topics untouched;
// redriven tasks are due now with their attempts reset, deleted ones are gone for good (record,
// counts, dedup key), also after a reopen.

#include <gtest/gtest.h>

#include <span>

#include "store/store.h"
#include "unit/store/store_backends.h"

namespace delayq::store {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

class DeadBulkContract : public BackendTest {
 protected:
  // A task of `topic` that became dead: added due in the past with one attempt, claimed,
  // nacked.
  TaskId AddDead(const std::string& topic, DeliveryKind kind = DeliveryKind::kPull,
                 std::string dedup_key = "") {
    Task task;
    task.id = ++next_id_;
    task.topic = topic;
    task.due_at_ms = kNow - 1000;
    task.created_at_ms = kNow - 2000;
    task.payload = "p";
    task.kind = kind;
    task.max_attempts = 1;
    task.dedup_key = std::move(dedup_key);
    if (kind == DeliveryKind::kCallback) task.callback = R"({"url":"http://127.0.0.1:1/"})";
    EXPECT_TRUE(store_->Add(std::span<const Task>(&task, 1)));
    EXPECT_TRUE(store_->Promote(kNow));
    auto claimed = store_->ClaimDue(topic, kind, 1, kNow, kNow + 30'000);
    EXPECT_TRUE(claimed && claimed->size() == 1u);
    if (!claimed || claimed->empty()) return task.id;
    auto dead = store_->Nack(task.id, claimed->front().lease_token, kNow, "boom", kNow);
    EXPECT_TRUE(dead && dead->state == TaskState::kDead);
    return task.id;
  }

  int64_t CountOf(const std::string& topic, TaskState state) {
    auto stats = store_->Topics(topic, kNow);
    EXPECT_TRUE(stats) << stats.error().message;
    if (!stats || stats->empty()) return 0;
    return stats->front().by_state[static_cast<int>(state)];
  }

  std::vector<TaskId> DeadIds(const std::string& topic) {
    auto dead = store_->ListDead(topic, 0, 100);
    EXPECT_TRUE(dead) << dead.error().message;
    std::vector<TaskId> ids;
    if (dead) {
      for (const Task& t : *dead) ids.push_back(t.id);
    }
    return ids;
  }

  TaskId next_id_ = 9000;
};

TEST_P(DeadBulkContract, RedriveTakesTheFirstSliceInIdOrderAndSaysWhetherMoreRemain) {
  std::vector<TaskId> ids = {AddDead("jobs"), AddDead("jobs", DeliveryKind::kCallback),
                             AddDead("jobs"), AddDead("jobs", DeliveryKind::kCallback),
                             AddDead("jobs")};
  TaskId other = AddDead("other");
  int64_t later = kNow + 5000;

  auto first = store_->RedriveDead("jobs", 3, later);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->count, 3u);
  EXPECT_TRUE(first->more);
  for (size_t i = 0; i < 3; ++i) {
    auto task = store_->Get(ids[i]);
    ASSERT_TRUE(task) << task.error().message;
    EXPECT_EQ(task->state, TaskState::kScheduled) << "task " << i;
    EXPECT_EQ(task->due_at_ms, later);
    EXPECT_EQ(task->attempts, 0u);
  }
  EXPECT_EQ(DeadIds("jobs"), (std::vector<TaskId>{ids[3], ids[4]}));
  EXPECT_EQ(CountOf("jobs", TaskState::kDead), 2);
  EXPECT_EQ(CountOf("jobs", TaskState::kScheduled), 3);

  auto rest = store_->RedriveDead("jobs", 1000, later);
  ASSERT_TRUE(rest) << rest.error().message;
  EXPECT_EQ(rest->count, 2u);
  EXPECT_FALSE(rest->more);
  EXPECT_TRUE(DeadIds("jobs").empty());
  EXPECT_EQ(CountOf("jobs", TaskState::kDead), 0);
  EXPECT_EQ(DeadIds("other"), std::vector<TaskId>{other}) << "another topic's dead task moved";

  auto none = store_->RedriveDead("jobs", 10, later);
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(none->count, 0u);
  EXPECT_FALSE(none->more);

  // Due now, in their own lanes: every one is handed out again.
  ASSERT_TRUE(store_->Promote(later));
  auto pulls = store_->ClaimDue("jobs", DeliveryKind::kPull, 10, later, later + 30'000);
  auto calls = store_->ClaimDue("jobs", DeliveryKind::kCallback, 10, later, later + 30'000);
  ASSERT_TRUE(pulls && calls);
  EXPECT_EQ(pulls->size(), 3u);
  EXPECT_EQ(calls->size(), 2u);
}

TEST_P(DeadBulkContract, DeleteRemovesTasksForGoodAndFreesTheirDedupKeys) {
  TaskId keyed = AddDead("jobs", DeliveryKind::kPull, "once");
  TaskId second = AddDead("jobs");
  TaskId third = AddDead("jobs", DeliveryKind::kCallback);
  TaskId other = AddDead("other");

  auto first = store_->DeleteDead("jobs", 2, kNow);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->count, 2u);
  EXPECT_TRUE(first->more);
  EXPECT_EQ(store_->Get(keyed).error().code, Errc::kNotFound);
  EXPECT_EQ(store_->Get(second).error().code, Errc::kNotFound);
  EXPECT_EQ(DeadIds("jobs"), std::vector<TaskId>{third});
  EXPECT_EQ(CountOf("jobs", TaskState::kDead), 1);

  // The dedup key of a deleted task is free again.
  Task again;
  again.id = ++next_id_;
  again.topic = "jobs";
  again.due_at_ms = kNow + 60'000;
  again.created_at_ms = kNow;
  again.dedup_key = "once";
  auto stored = store_->Add(std::span<const Task>(&again, 1));
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->front(), again.id);

  auto rest = store_->DeleteDead("jobs", 1000, kNow);
  ASSERT_TRUE(rest) << rest.error().message;
  EXPECT_EQ(rest->count, 1u);
  EXPECT_FALSE(rest->more);

  Reopen();
  EXPECT_EQ(store_->Get(third).error().code, Errc::kNotFound) << "the delete was not durable";
  EXPECT_TRUE(DeadIds("jobs").empty());
  EXPECT_EQ(CountOf("jobs", TaskState::kDead), 0);
  EXPECT_EQ(CountOf("jobs", TaskState::kScheduled), 1);
  EXPECT_EQ(DeadIds("other"), std::vector<TaskId>{other});
  // The retention purge later finds nothing of them to trip over.
  auto purged = store_->PurgeFinished(kNow + 1'000'000, 100);
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(*purged, 1u) << "only the other topic's dead task is left to purge";
}

INSTANTIATE_TEST_SUITE_P(Rocksdb, DeadBulkContract, ::testing::Values(RocksdbBackend()),
                         BackendName);
INSTANTIATE_TEST_SUITE_P(Redis, DeadBulkContract, ::testing::Values(RedisBackend()), BackendName);
INSTANTIATE_TEST_SUITE_P(RedisCluster, DeadBulkContract, ::testing::Values(RedisClusterBackend()),
                         BackendName);

}  // namespace
}  // namespace delayq::store
