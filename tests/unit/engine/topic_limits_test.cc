// Run-time changes of per-topic callback limits (Engine::SetTopicLimits, used by the config
// centre) and the lateness ring fed by deliveries.

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>

#include "engine/engine.h"
#include "support/server_process.h"
#include "support/temp_dir.h"

namespace delayq::engine {
namespace {

using namespace std::chrono_literals;
constexpr int64_t kNow = 1'800'000'000'000;

// Holds every call until the test answers it.
class HoldingSink final : public CallbackSink {
 public:
  void Deliver(const Task&, std::function<void(CallbackOutcome)> done) override {
    std::lock_guard lock(mu_);
    held_.push_back(std::move(done));
    ++delivered_;
  }
  size_t delivered() {
    std::lock_guard lock(mu_);
    return delivered_;
  }
  void AnswerAll() {
    std::vector<std::function<void(CallbackOutcome)>> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& done : held) done(CallbackOutcome{200, ""});
  }

 private:
  std::mutex mu_;
  std::vector<std::function<void(CallbackOutcome)>> held_;
  size_t delivered_ = 0;
};

class TopicLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreConfig config;
    config.data_dir = dir_.Sub("data");
    auto opened = store::OpenStore(config);
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    EngineConfig engine_config;
    engine_config.topic_limits["cb"] = EngineConfig::TopicLimits{1, 0};
    engine_ = std::make_unique<Engine>(*store_, clock_, engine_config, &sink_);
    ASSERT_TRUE(engine_->Start());
  }
  void TearDown() override {
    sink_.AnswerAll();
    engine_->Stop();
  }

  void Add(NewTask task) {
    std::promise<bool> done;
    std::vector<NewTask> tasks{std::move(task)};
    engine_->Add(std::move(tasks), [&](Result<std::vector<AddedTask>> r) { done.set_value(!!r); });
    ASSERT_TRUE(done.get_future().get());
  }

  void AddCallback(const std::string& topic) {
    NewTask task;
    task.topic = topic;
    task.due_at_ms = kNow;
    task.payload = "p";
    task.kind = DeliveryKind::kCallback;
    task.callback = R"({"url":"http://127.0.0.1:1/x"})";
    Add(std::move(task));
  }

  testing::TempDir dir_;
  ManualClock clock_{kNow};
  HoldingSink sink_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(TopicLimitsTest, RaisedMaxInFlightAppliesToTheNextClaim) {
  for (int i = 0; i < 3; ++i) AddCallback("cb");
  ASSERT_TRUE(testing::WaitFor([&] { return sink_.delivered() == 1; }, 5s));
  std::this_thread::sleep_for(200ms);  // a limit of 1 must hold the other two back
  ASSERT_EQ(sink_.delivered(), 1u);

  engine_->SetTopicLimits({{"cb", EngineConfig::TopicLimits{3, 0}}});
  sink_.AnswerAll();  // the freed slot claims again, now under the new limit
  EXPECT_TRUE(testing::WaitFor([&] { return sink_.delivered() == 3; }, 5s))
      << "delivered " << sink_.delivered() << " of 3: the old limit is still in force";
}

TEST_F(TopicLimitsTest, LoweredMaxInFlightHoldsBackLaterClaims) {
  engine_->SetTopicLimits({});  // "cb" falls back to the default (64)
  for (int i = 0; i < 3; ++i) AddCallback("cb");
  ASSERT_TRUE(testing::WaitFor([&] { return sink_.delivered() == 3; }, 5s));
  engine_->SetTopicLimits({{"cb", EngineConfig::TopicLimits{1, 0}}});
  for (int i = 0; i < 2; ++i) AddCallback("cb");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sink_.delivered(), 3u) << "3 in flight is above the new limit of 1";
  sink_.AnswerAll();
  ASSERT_TRUE(testing::WaitFor([&] { return sink_.delivered() == 4; }, 5s));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(sink_.delivered(), 4u);
}

TEST_F(TopicLimitsTest, FirstDeliveriesFeedTheLatenessRing) {
  NewTask task;
  task.topic = "pull";
  task.due_at_ms = kNow - 40;
  task.payload = "p";
  Add(std::move(task));
  std::promise<Result<std::optional<Task>>> pulled;
  engine_->PullOldest("pull", [&](Result<std::optional<Task>> r) { pulled.set_value(r); });
  auto result = pulled.get_future().get();
  ASSERT_TRUE(result && result->has_value());
  auto seconds = engine_->lateness().Snapshot(kNow, 1);
  ASSERT_EQ(seconds.size(), 1u);
  EXPECT_EQ(seconds[0].count, 1u);
  EXPECT_EQ(seconds[0].max_ms, 40);
}

}  // namespace
}  // namespace delayq::engine
