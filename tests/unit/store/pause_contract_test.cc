// The topic-pause part of the Store contract, on every backend: the flag is persisted and read
// back, claims of every kind skip a paused topic (other topics go on), and a resumed topic is
// taken oldest due first.

#include <gtest/gtest.h>

#include <algorithm>
#include <span>

#include "store/store.h"
#include "support/temp_dir.h"
#include "unit/store/store_backends.h"

namespace delayq::store {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

class PauseContract : public BackendTest {
 protected:
  TaskId AddOne(const std::string& topic, int64_t due_at_ms,
                DeliveryKind kind = DeliveryKind::kPull) {
    Task task;
    task.id = ++next_id_;
    task.topic = topic;
    task.due_at_ms = due_at_ms;
    task.created_at_ms = kNow;
    task.payload = "p";
    task.kind = kind;
    if (kind == DeliveryKind::kCallback) task.callback = R"({"url":"http://127.0.0.1:1/"})";
    EXPECT_TRUE(store_->Add(std::span<const Task>(&task, 1)));
    return task.id;
  }

  std::optional<TopicStats> StatsOf(const std::string& topic) {
    auto all = store_->Topics("", kNow);
    EXPECT_TRUE(all) << all.error().message;
    if (!all) return std::nullopt;
    for (const TopicStats& s : *all) {
      if (s.topic == topic) return s;
    }
    return std::nullopt;
  }

  static std::vector<TaskId> Ids(const Result<std::vector<Task>>& tasks) {
    EXPECT_TRUE(tasks) << tasks.error().message;
    std::vector<TaskId> ids;
    if (tasks) {
      for (const Task& t : *tasks) ids.push_back(t.id);
    }
    return ids;
  }

  static bool Has(const std::vector<std::string>& topics, const std::string& topic) {
    return std::find(topics.begin(), topics.end(), topic) != topics.end();
  }

  TaskId next_id_ = 5000;
};

TEST_P(PauseContract, APausedTopicHandsOutNothingWhileOthersGoOn) {
  TaskId first = AddOne("held", kNow - 300);
  TaskId second = AddOne("held", kNow - 100);
  TaskId call = AddOne("held", kNow - 200, DeliveryKind::kCallback);
  TaskId other = AddOne("other", kNow - 50);
  ASSERT_TRUE(store_->SetPaused("held", true, kNow));

  auto promoted = store_->Promote(kNow);
  ASSERT_TRUE(promoted) << promoted.error().message;
  EXPECT_FALSE(Has(promoted->topics_ready, "held"));
  EXPECT_FALSE(Has(promoted->callback_topics_ready, "held"));
  EXPECT_TRUE(Has(promoted->topics_ready, "other")) << "the scan ran past the paused topic";
  EXPECT_FALSE(store_->HasDue("held", DeliveryKind::kPull, kNow));
  EXPECT_FALSE(store_->HasDue("held", DeliveryKind::kCallback, kNow));
  EXPECT_TRUE(store_->HasDue("other", DeliveryKind::kPull, kNow));

  EXPECT_TRUE(Ids(store_->ConsumeDue("held", 10, kNow)).empty());
  EXPECT_TRUE(Ids(store_->ClaimDue("held", DeliveryKind::kPull, 10, kNow, kNow + 1000)).empty());
  EXPECT_TRUE(
      Ids(store_->ClaimDue("held", DeliveryKind::kCallback, 10, kNow, kNow + 1000)).empty());
  auto by_id = store_->ConsumeById("held", first, kNow);
  ASSERT_FALSE(by_id);
  EXPECT_EQ(by_id.error().code, Errc::kNotDue);
  EXPECT_EQ(by_id.error().message, PausedRefusal("held", first).message);
  // The other topic is served in the same moment: the claims above ran, and skipped "held".
  EXPECT_EQ(Ids(store_->ConsumeDue("other", 10, kNow)), std::vector<TaskId>{other});

  for (TaskId id : {first, second, call}) EXPECT_EQ(store_->Get(id)->state, TaskState::kScheduled);
  auto stats = StatsOf("held");
  ASSERT_TRUE(stats);
  EXPECT_TRUE(stats->paused);
  EXPECT_EQ(stats->paused_at_ms, kNow);
  EXPECT_EQ(stats->by_state[static_cast<int>(TaskState::kScheduled)], 3);
  EXPECT_FALSE(StatsOf("other")->paused);

  // Resumed: everything that fell due meanwhile, oldest first.
  ASSERT_TRUE(store_->SetPaused("held", false, kNow + 10));
  ASSERT_TRUE(store_->Promote(kNow + 10));
  EXPECT_TRUE(store_->HasDue("held", DeliveryKind::kPull, kNow + 10));
  EXPECT_EQ(Ids(store_->ClaimDue("held", DeliveryKind::kPull, 10, kNow + 10, kNow + 1000)),
            (std::vector<TaskId>{first, second}));
  EXPECT_EQ(Ids(store_->ClaimDue("held", DeliveryKind::kCallback, 10, kNow + 10, kNow + 1000)),
            std::vector<TaskId>{call});
  EXPECT_FALSE(StatsOf("held")->paused);
}

TEST_P(PauseContract, ThePauseSurvivesAReopen) {
  TaskId id = AddOne("held", kNow - 1);
  ASSERT_TRUE(store_->SetPaused("held", true, kNow));
  Reopen();
  auto stats = StatsOf("held");
  ASSERT_TRUE(stats);
  EXPECT_TRUE(stats->paused);
  EXPECT_EQ(stats->paused_at_ms, kNow);
  ASSERT_TRUE(store_->Promote(kNow));
  EXPECT_TRUE(Ids(store_->ConsumeDue("held", 10, kNow)).empty());
  ASSERT_TRUE(store_->SetPaused("held", false, kNow));
  Reopen();
  ASSERT_TRUE(store_->Promote(kNow));
  EXPECT_EQ(Ids(store_->ConsumeDue("held", 10, kNow)), std::vector<TaskId>{id});
}

TEST_P(PauseContract, ATopicWithoutTasksCanBePausedAndIsListed) {
  ASSERT_TRUE(store_->SetPaused("quiet", true, kNow));
  // Pausing again keeps the first time; resuming a topic not paused changes nothing.
  ASSERT_TRUE(store_->SetPaused("quiet", true, kNow + 500));
  ASSERT_TRUE(store_->SetPaused("never", false, kNow));
  auto stats = StatsOf("quiet");
  ASSERT_TRUE(stats) << "a paused topic is listed although it holds no task";
  EXPECT_TRUE(stats->paused);
  EXPECT_EQ(stats->paused_at_ms, kNow);
  auto one = store_->Topics("quiet", kNow);
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_TRUE(one->front().paused);
  // Tasks added while paused wait.
  TaskId id = AddOne("quiet", kNow - 1);
  EXPECT_TRUE(Ids(store_->ConsumeDue("quiet", 10, kNow)).empty());
  ASSERT_TRUE(store_->SetPaused("quiet", false, kNow));
  EXPECT_EQ(Ids(store_->ConsumeDue("quiet", 10, kNow)), std::vector<TaskId>{id});
}

TEST_P(PauseContract, LeasesTakenBeforeThePauseFinish) {
  TaskId acked = AddOne("held", kNow - 20);
  TaskId nacked = AddOne("held", kNow - 10);
  auto taken = store_->ClaimDue("held", DeliveryKind::kPull, 10, kNow, kNow + 60'000);
  ASSERT_EQ(Ids(taken), (std::vector<TaskId>{acked, nacked}));
  ASSERT_TRUE(store_->SetPaused("held", true, kNow));
  auto ack = store_->Ack(acked, (*taken)[0].lease_token, kNow);
  ASSERT_TRUE(ack) << ack.error().message;
  EXPECT_EQ(ack->state, TaskState::kDone);
  // Given back: due again, and held by the pause like any due task.
  ASSERT_TRUE(store_->Nack(nacked, (*taken)[1].lease_token, kNow, "later", kNow));
  EXPECT_EQ(store_->Get(nacked)->state, TaskState::kScheduled);
  ASSERT_TRUE(store_->Promote(kNow + 1));
  EXPECT_TRUE(
      Ids(store_->ClaimDue("held", DeliveryKind::kPull, 10, kNow + 1, kNow + 60'000)).empty());
  ASSERT_TRUE(store_->SetPaused("held", false, kNow + 1));
  EXPECT_EQ(Ids(store_->ClaimDue("held", DeliveryKind::kPull, 10, kNow + 1, kNow + 60'000)),
            std::vector<TaskId>{nacked});
}

// Instances sharing one Redis: a pause through one store object stops the claims of another
// at once (the claim script reads the flag), and its resume is seen at the other's next look.
TEST_P(PauseContract, APauseThroughOneInstanceStopsAnother) {
  if (GetParam().near_window) GTEST_SKIP() << "one process owns an embedded store";
  auto opened = GetParam().open(dir_.path(), config_);
  ASSERT_TRUE(opened) << opened.error().message;
  Store& b = **opened;
  TaskId id = AddOne("shared", kNow - 1);
  ASSERT_TRUE(store_->SetPaused("shared", true, kNow));
  auto promoted = b.Promote(kNow);
  ASSERT_TRUE(promoted);
  EXPECT_FALSE(Has(promoted->topics_ready, "shared"));
  EXPECT_TRUE(Ids(b.ClaimDue("shared", DeliveryKind::kPull, 10, kNow, kNow + 1000)).empty());
  auto seen = b.Topics("shared", kNow);
  ASSERT_TRUE(seen);
  EXPECT_TRUE(seen->front().paused);
  ASSERT_TRUE(store_->SetPaused("shared", false, kNow));
  auto again = b.Promote(kNow + 1);
  ASSERT_TRUE(again);
  EXPECT_TRUE(Has(again->topics_ready, "shared"));
  EXPECT_EQ(Ids(b.ClaimDue("shared", DeliveryKind::kPull, 10, kNow + 1, kNow + 1000)),
            std::vector<TaskId>{id});
}

INSTANTIATE_TEST_SUITE_P(Rocksdb, PauseContract, ::testing::Values(RocksdbBackend()), BackendName);
INSTANTIATE_TEST_SUITE_P(Redis, PauseContract, ::testing::Values(RedisBackend()), BackendName);
INSTANTIATE_TEST_SUITE_P(RedisCluster, PauseContract, ::testing::Values(RedisClusterBackend()),
                         BackendName);

}  // namespace
}  // namespace delayq::store
