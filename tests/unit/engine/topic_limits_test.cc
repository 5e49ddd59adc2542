// Run-time changes of per-topic callback limits (Engine::SetTopicLimits, used by the config
// centre) and the lateness ring fed by deliveries. What a limit holds back is shown after a
// barrier (Barrier), not after a sleep.

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>

#include "engine/engine.h"
#include "engine_fixture.h"

namespace delayq::engine {
namespace {

using namespace std::chrono_literals;

// Holds every call until the test answers it; counts deliveries by topic.
class HoldingSink final : public CallbackSink {
 public:
  void Deliver(const Task& task, std::function<void(CallbackOutcome)> done) override {
    std::lock_guard lock(mu_);
    held_.push_back(std::move(done));
    ++delivered_[task.topic];
  }
  size_t delivered(const std::string& topic = "cb") {
    std::lock_guard lock(mu_);
    return delivered_[topic];
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
  std::map<std::string, size_t> delivered_;
};

class TopicLimitsTest : public EngineFixture {
 protected:
  void SetUp() override {
    engine_config_.topic_limits["cb"] = EngineConfig::TopicLimits{1, 0};
    callbacks_ = &sink_;
    EngineFixture::SetUp();
  }
  void TearDown() override {
    sink_.AnswerAll();
    EngineFixture::TearDown();
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

  // Returns once the engine has done everything the events so far asked of it. The clock
  // stands still, so nothing falls due by itself: a claim happens only after a scheduler
  // round that saw newly due tasks, or after a completion, each queueing a claim job on the
  // store worker, which runs jobs in order. A probe callback task added now is reported by a
  // round no earlier than the last add's; once it is delivered, the claim jobs of the rounds
  // before it have run. A second probe, added after the first was delivered, also covers the
  // jobs of the round that reported the first probe (a round pumps its topics in no set
  // order). After the barrier a claim the limit should have refused would have been made.
  void Barrier() {
    for (int i = 0; i < 2; ++i) {
      std::string probe = "probe" + std::to_string(probes_++);
      AddCallback(probe);
      ASSERT_TRUE(testing::WaitFor([&] { return sink_.delivered(probe) == 1; }, 5s)) << probe;
    }
  }

  int probes_ = 0;
  HoldingSink sink_;
};

TEST_F(TopicLimitsTest, RaisedMaxInFlightAppliesToTheNextClaim) {
  for (int i = 0; i < 3; ++i) AddCallback("cb");
  ASSERT_TRUE(testing::WaitFor([&] { return sink_.delivered() == 1; }, 5s));
  Barrier();
  ASSERT_EQ(sink_.delivered(), 1u) << "a limit of 1 must hold the other two back";

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
  Barrier();
  EXPECT_EQ(sink_.delivered(), 3u) << "3 in flight is above the new limit of 1";
  sink_.AnswerAll();
  ASSERT_TRUE(testing::WaitFor([&] { return sink_.delivered() == 4; }, 5s));
  Barrier();
  EXPECT_EQ(sink_.delivered(), 4u) << "one in flight is the new limit";
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
