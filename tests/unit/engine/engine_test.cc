#include "engine/engine.h"

#include <gtest/gtest.h>

#include <future>

#include "support/server_process.h"
#include "support/temp_dir.h"

namespace delayq::engine {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override { Close(); }

  void Open() {
    store::StoreConfig config;
    config.data_dir = dir_.Sub("data");
    auto opened = store::OpenStore(config);
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    engine_ = std::make_unique<Engine>(*store_, clock_, engine_config_);
    ASSERT_TRUE(engine_->Start());
  }

  void Close() {
    if (engine_) engine_->Stop();
    engine_.reset();
    store_.reset();
  }

  Result<std::vector<TaskId>> Add(const std::string& topic, int64_t due_at_ms,
                                  std::string payload = "p") {
    std::vector<NewTask> tasks(1);
    tasks[0].topic = topic;
    tasks[0].due_at_ms = due_at_ms;
    tasks[0].payload = std::move(payload);
    std::promise<Result<std::vector<TaskId>>> done;
    engine_->Add(std::move(tasks), [&](Result<std::vector<AddedTask>> added) {
      if (!added) return done.set_value(std::unexpected(added.error()));
      std::vector<TaskId> ids;
      for (const AddedTask& a : *added) ids.push_back(a.id);
      done.set_value(ids);
    });
    return done.get_future().get();
  }

  Result<std::optional<Task>> Pull(const std::string& topic, std::optional<TaskId> id = {}) {
    std::promise<Result<std::optional<Task>>> done;
    auto callback = [&](Result<std::optional<Task>> task) { done.set_value(std::move(task)); };
    if (id) {
      engine_->PullById(topic, *id, callback);
    } else {
      engine_->PullOldest(topic, callback);
    }
    return done.get_future().get();
  }

  testing::TempDir dir_;
  ManualClock clock_{kNow};
  EngineConfig engine_config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, AddedTaskIsPulledOnceWhenDue) {
  auto ids = Add("t", kNow + 1000, "hello");
  ASSERT_TRUE(ids) << ids.error().message;
  EXPECT_FALSE(Pull("t")->has_value());  // not due yet
  clock_.Advance(1000);
  auto task = Pull("t");
  ASSERT_TRUE(task && task->has_value());
  EXPECT_EQ((*task)->id, ids->front());
  EXPECT_EQ((*task)->payload, "hello");
  EXPECT_FALSE(Pull("t")->has_value());
  EXPECT_EQ(engine_->metrics().tasks_delivered.load(), 1u);
  EXPECT_EQ(engine_->metrics().tasks_added.load(), 1u);
}

TEST_F(EngineTest, PullByIdDistinguishesNotDueFromNotFound) {
  TaskId id = Add("t", kNow + 5000)->front();
  EXPECT_EQ(Pull("t", id).error().code, Errc::kNotDue);
  EXPECT_EQ(Pull("t", id + 12345).error().code, Errc::kNotFound);
  clock_.Advance(5000);
  auto task = Pull("t", id);
  ASSERT_TRUE(task) << task.error().message;
  EXPECT_EQ((*task)->id, id);
  EXPECT_EQ(Pull("t", id).error().code, Errc::kNotFound);  // consumed
}

TEST_F(EngineTest, ConcurrentAddsAllLandWithDistinctIds) {
  constexpr int kAdds = 2000;
  std::vector<std::promise<Result<std::vector<AddedTask>>>> done(kAdds);
  for (int i = 0; i < kAdds; ++i) {
    std::vector<NewTask> tasks(1);
    tasks[0].topic = "bulk";
    tasks[0].due_at_ms = kNow;
    tasks[0].payload = std::to_string(i);
    engine_->Add(std::move(tasks),
                 [&, i](Result<std::vector<AddedTask>> ids) { done[i].set_value(ids); });
  }
  std::set<TaskId> ids;
  for (auto& d : done) {
    auto r = d.get_future().get();
    ASSERT_TRUE(r);
    ids.insert(r->front().id);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kAdds));
  // Group commit: adds queued together share store writes.
  EXPECT_LT(engine_->metrics().add_commits.load(), static_cast<uint64_t>(kAdds));
}

TEST_F(EngineTest, IdsKeepGrowingAcrossARestartEvenIfTheClockWentBack) {
  TaskId before = Add("t", kNow + 100'000)->front();
  Close();
  clock_.Set(kNow - 3'600'000);
  Open();
  TaskId after = Add("t", kNow + 100'000)->front();
  EXPECT_GT(after, before);
}

TEST_F(EngineTest, FinishedTasksArePurgedAfterRetention) {
  Close();
  engine_config_.retention_ms = 1000;
  engine_config_.purge_interval_ms = 10;
  Open();
  TaskId id = Add("t", kNow)->front();
  ASSERT_TRUE(Pull("t")->has_value());
  EXPECT_TRUE(engine_->Get(id));
  clock_.Advance(500);
  // Still within retention: stays readable.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(engine_->Get(id));
  clock_.Advance(1000);
  EXPECT_TRUE(testing::WaitFor([&] { return !engine_->Get(id); }, std::chrono::seconds(5)));
  EXPECT_EQ(engine_->Get(id).error().code, Errc::kNotFound);
}

}  // namespace
}  // namespace delayq::engine
