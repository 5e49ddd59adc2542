// Pausing a topic in the engine: nothing of it is pulled, claimed or called while another
// topic's callback, due later, is; a long poll waits through the pause and is answered by the
// resume; the resume delivers what fell due, oldest first.

#include <gtest/gtest.h>

#include <future>
#include <mutex>

#include "engine/engine.h"
#include "engine_fixture.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // as in engine_test.cc

namespace delayq::engine {
namespace {

// Records the calls in order and answers each 200 at once.
class RecordingSink final : public CallbackSink {
 public:
  void Deliver(const Task& task, std::function<void(CallbackOutcome)> done) override {
    {
      std::lock_guard lock(mu_);
      calls_.push_back(task);
    }
    done(CallbackOutcome{200, ""});
  }
  std::vector<TaskId> Calls(const std::string& topic) {
    std::lock_guard lock(mu_);
    std::vector<TaskId> ids;
    for (const Task& t : calls_) {
      if (t.topic == topic) ids.push_back(t.id);
    }
    return ids;
  }

 private:
  std::mutex mu_;
  std::vector<Task> calls_;
};

class TopicPause : public EngineFixture {
 protected:
  void SetUp() override {
    callbacks_ = &sink_;
    EngineFixture::SetUp();
  }

  TaskId Add(const std::string& topic, int64_t due_at_ms, DeliveryKind kind) {
    std::vector<NewTask> tasks(1);
    tasks[0].topic = topic;
    tasks[0].due_at_ms = due_at_ms;
    tasks[0].payload = "p";
    tasks[0].kind = kind;
    if (kind == DeliveryKind::kCallback) tasks[0].callback = R"({"url":"http://127.0.0.1:1/"})";
    std::promise<TaskId> done;
    engine_->Add(std::move(tasks), [&](Result<std::vector<AddedTask>> added) {
      done.set_value(added ? added->front().id : 0);
    });
    return done.get_future().get();
  }

  Result<store::TopicStats> SetPaused(const std::string& topic, bool paused) {
    std::promise<Result<store::TopicStats>> done;
    engine_->SetTopicPaused(
        topic, paused, [&](Result<store::TopicStats> stats) { done.set_value(std::move(stats)); });
    return done.get_future().get();
  }

  RecordingSink sink_;
};

TEST_F(TopicPause, NothingGoesOutWhilePausedAndTheResumeDeliversOldestFirst) {
  auto paused = SetPaused("held", true);
  ASSERT_TRUE(paused) << paused.error().message;
  EXPECT_TRUE(paused->paused);
  EXPECT_EQ(paused->paused_at_ms, kNow);
  std::vector<TaskId> pulls, calls;
  for (int i = 0; i < 3; ++i) {
    pulls.push_back(Add("held", kNow - 30 + 10 * i, DeliveryKind::kPull));
    calls.push_back(Add("held", kNow - 25 + 10 * i, DeliveryKind::kCallback));
  }
  std::promise<Result<std::vector<Task>>> polled;
  engine_->Claim("held", 10, 60'000, 60'000,
                 [&](Result<std::vector<Task>> tasks) { polled.set_value(std::move(tasks)); });
  auto poll = polled.get_future();
  // Due after every held task: once it is called, the engine has claimed past them.
  TaskId probe = Add("probe", kNow, DeliveryKind::kCallback);
  ASSERT_TRUE(
      testing::WaitFor([&] { return sink_.Calls("probe").size() == 1; }, std::chrono::seconds(10)));
  EXPECT_EQ(sink_.Calls("probe"), std::vector<TaskId>{probe});
  EXPECT_TRUE(sink_.Calls("held").empty());
  EXPECT_EQ(poll.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the long poll waits through the pause";
  std::promise<Result<std::optional<Task>>> oldest, by_id;
  engine_->PullOldest("held", [&](auto task) { oldest.set_value(std::move(task)); });
  engine_->PullById("held", pulls[0], [&](auto task) { by_id.set_value(std::move(task)); });
  auto seed = oldest.get_future().get();
  ASSERT_TRUE(seed);
  EXPECT_FALSE(seed->has_value());
  auto refused = by_id.get_future().get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kNotDue);
  for (TaskId id : pulls) EXPECT_EQ(engine_->Get(id)->state, TaskState::kScheduled);

  auto resumed = SetPaused("held", false);
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_FALSE(resumed->paused);
  ASSERT_EQ(poll.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto taken = poll.get();
  ASSERT_TRUE(taken) << taken.error().message;
  std::vector<TaskId> order;
  for (const Task& t : *taken) order.push_back(t.id);
  EXPECT_EQ(order, pulls);
  ASSERT_TRUE(testing::WaitFor([&] { return sink_.Calls("held").size() == calls.size(); },
                               std::chrono::seconds(10)));
  EXPECT_EQ(sink_.Calls("held"), calls);
}

}  // namespace
}  // namespace delayq::engine
