// The trace-context part of the Store contract, on every backend: a task's traceparent and
// tracestate are kept through every read and state change, tasks added beside it without
// trace context stay without it, and both survive a reopen.

#include <gtest/gtest.h>

#include <span>

#include "store/store.h"
#include "unit/store/store_backends.h"

namespace delayq::store {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;
constexpr char kParent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr char kState[] = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";

class TraceContract : public BackendTest {
 protected:
  Task Make(DeliveryKind kind, bool traced) {
    Task task;
    task.id = ++next_id_;
    task.topic = "traced";
    task.due_at_ms = kNow - 10 + static_cast<int64_t>(next_id_ % 10);
    task.created_at_ms = kNow;
    task.payload = "p" + std::to_string(task.id);
    task.kind = kind;
    if (kind == DeliveryKind::kCallback) task.callback = R"({"url":"http://127.0.0.1:1/"})";
    if (traced) {
      task.traceparent = kParent;
      task.tracestate = kState;
    }
    return task;
  }

  void ExpectTrace(TaskId id, bool traced) {
    auto task = store_->Get(id);
    ASSERT_TRUE(task) << task.error().message;
    EXPECT_EQ(task->traceparent, traced ? kParent : "") << id;
    EXPECT_EQ(task->tracestate, traced ? kState : "") << id;
  }

  TaskId next_id_ = 2000;
};

TEST_P(TraceContract, ABatchKeepsEachTasksOwnTraceContext) {
  // Traced and untraced tasks interleaved in one add: each keeps exactly its own fields.
  std::vector<Task> tasks = {Make(DeliveryKind::kPull, false), Make(DeliveryKind::kPull, true),
                             Make(DeliveryKind::kPull, false), Make(DeliveryKind::kPull, true)};
  ASSERT_TRUE(store_->Add(tasks));
  for (const Task& task : tasks) {
    ExpectTrace(task.id, !task.traceparent.empty());
    EXPECT_EQ(store_->Get(task.id)->payload, task.payload);
  }
  Reopen();
  for (const Task& task : tasks) ExpectTrace(task.id, !task.traceparent.empty());
}

TEST_P(TraceContract, ClaimsNacksAndConsumesReturnTheTraceContext) {
  Task pull = Make(DeliveryKind::kPull, true);
  Task callback = Make(DeliveryKind::kCallback, true);
  Task seed = Make(DeliveryKind::kPull, true);
  seed.topic = "traced_seed";
  for (const Task& task : {pull, callback, seed}) {
    ASSERT_TRUE(store_->Add(std::span<const Task>(&task, 1)));
  }
  ASSERT_TRUE(store_->Promote(kNow));

  auto leased = store_->ClaimDue("traced", DeliveryKind::kPull, 10, kNow, kNow + 30'000);
  ASSERT_TRUE(leased) << leased.error().message;
  ASSERT_EQ(leased->size(), 1u);
  EXPECT_EQ(leased->front().traceparent, kParent);
  EXPECT_EQ(leased->front().tracestate, kState);
  auto nacked = store_->Nack(pull.id, leased->front().lease_token, kNow + 5, "boom", kNow);
  ASSERT_TRUE(nacked) << nacked.error().message;
  ExpectTrace(pull.id, true);

  auto delivering = store_->ClaimDue("traced", DeliveryKind::kCallback, 10, kNow, kNow + 30'000);
  ASSERT_TRUE(delivering) << delivering.error().message;
  ASSERT_EQ(delivering->size(), 1u);
  EXPECT_EQ(delivering->front().traceparent, kParent);

  auto consumed = store_->ConsumeDue("traced_seed", 10, kNow);
  ASSERT_TRUE(consumed) << consumed.error().message;
  ASSERT_EQ(consumed->size(), 1u);
  EXPECT_EQ(consumed->front().traceparent, kParent);
  EXPECT_EQ(consumed->front().tracestate, kState);

  Reopen();
  ExpectTrace(callback.id, true);
  ExpectTrace(seed.id, true);
}

INSTANTIATE_TEST_SUITE_P(Rocksdb, TraceContract, ::testing::Values(RocksdbBackend()), BackendName);
INSTANTIATE_TEST_SUITE_P(Redis, TraceContract, ::testing::Values(RedisBackend()), BackendName);
INSTANTIATE_TEST_SUITE_P(RedisCluster, TraceContract, ::testing::Values(RedisClusterBackend()),
                         BackendName);

}  // namespace
}  // namespace delayq::store
