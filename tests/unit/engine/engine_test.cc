#include "engine/engine.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "engine_fixture.h"

// GCC 12 reports a false "may be used uninitialized" inside std::expected's move when the
// Result<vector> lambdas below are inlined (the value is always engaged where it is read).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace delayq::engine {
namespace {

class EngineTest : public EngineFixture {
 protected:
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

  // Adds one callback task per topic, all due now.
  std::vector<TaskId> AddCallbacks(const std::vector<std::string>& topics) {
    std::vector<NewTask> tasks(topics.size());
    for (size_t i = 0; i < topics.size(); ++i) {
      tasks[i].topic = topics[i];
      tasks[i].due_at_ms = kNow;
      tasks[i].payload = std::to_string(i);
      tasks[i].kind = DeliveryKind::kCallback;
      tasks[i].callback = R"({"url":"http://127.0.0.1:1/cb"})";
    }
    std::promise<std::vector<TaskId>> done;
    engine_->Add(std::move(tasks), [&](Result<std::vector<AddedTask>> added) {
      std::vector<TaskId> ids;
      if (added) {
        for (const AddedTask& a : *added) ids.push_back(a.id);
      }
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

// Seed pulls issued at once (as a burst's consumers send them) may be answered by one store
// round: each still gets its own task, the earlier pull the older one, per topic, and the
// pulls beyond what is due get "nothing due".
TEST_F(EngineTest, SeedPullsIssuedAtOnceEachGetTheirOwnTaskOldestFirst) {
  constexpr int kDue = 40;
  std::map<std::string, std::vector<TaskId>> added;
  for (int i = 0; i < kDue; ++i) {
    std::string topic = i % 2 == 0 ? "even" : "odd";
    auto ids = Add(topic, kNow - 1000 + i);
    ASSERT_TRUE(ids) << ids.error().message;
    added[topic].push_back(ids->front());
  }
  constexpr int kPulls = kDue + 6;
  std::vector<std::promise<Result<std::optional<Task>>>> done(kPulls);
  std::vector<std::string> topics;
  for (int i = 0; i < kPulls; ++i) {
    topics.push_back(i % 2 == 0 ? "even" : "odd");
    engine_->PullOldest(topics.back(), [&done, i](Result<std::optional<Task>> task) {
      done[i].set_value(std::move(task));
    });
  }
  std::map<std::string, std::vector<TaskId>> pulled;
  std::map<std::string, int> empty;
  for (int i = 0; i < kPulls; ++i) {
    auto task = done[i].get_future().get();
    ASSERT_TRUE(task) << task.error().message;
    if (!task->has_value()) {
      ++empty[topics[i]];
      continue;
    }
    EXPECT_EQ((*task)->topic, topics[i]);
    // Once a pull of a topic found nothing, no later pull of it may find a task.
    EXPECT_EQ(empty[topics[i]], 0) << "pull " << i << " got a task after an empty answer";
    pulled[topics[i]].push_back((*task)->id);
  }
  EXPECT_EQ(pulled["even"], added["even"]);
  EXPECT_EQ(pulled["odd"], added["odd"]);
  EXPECT_EQ(empty["even"], 3);
  EXPECT_EQ(empty["odd"], 3);
  EXPECT_EQ(engine_->metrics().tasks_delivered.load(), static_cast<uint64_t>(kDue));
}

// A v1 pull of up to `max` due tasks of `topic` under a minute's lease (no wait).
std::vector<Task> ClaimNow(Engine& engine, const std::string& topic, size_t max) {
  std::promise<Result<std::vector<Task>>> done;
  engine.Claim(topic, max, 0, 60'000,
               [&](Result<std::vector<Task>> tasks) { done.set_value(std::move(tasks)); });
  auto tasks = done.get_future().get();
  EXPECT_TRUE(tasks) << tasks.error().message;
  return tasks ? std::move(*tasks) : std::vector<Task>();
}

Result<std::vector<Result<Task>>> SettleMany(Engine& engine, std::vector<Engine::LeaseEnd> ends) {
  std::promise<Result<std::vector<Result<Task>>>> done;
  engine.SettleMany(std::move(ends), [&](Result<std::vector<Result<Task>>> settled) {
    done.set_value(std::move(settled));
  });
  return done.get_future().get();
}

uint64_t TopicCount(const Engine& engine, std::string_view topic, TopicEvent event) {
  uint64_t count = 0;
  engine.metrics().topics.ForEach([&](std::string_view name, const TopicMetrics::Counts& counts) {
    if (name == topic) count = counts[static_cast<size_t>(event)].load();
  });
  return count;
}

TEST_F(EngineTest, SettleManyAnswersEveryEntryInOrderAndCountsThemAsSingleAcks) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Add("many", kNow));
  std::vector<Task> leased = ClaimNow(*engine_, "many", 3);
  ASSERT_EQ(leased.size(), 3u);
  auto settled = SettleMany(*engine_, {{leased[0].id, leased[0].lease_token, false, 0},
                                       {leased[1].id, leased[1].lease_token + 1, false, 0},
                                       {leased[2].id, leased[2].lease_token, true, 5'000}});
  ASSERT_TRUE(settled) << settled.error().message;
  ASSERT_EQ(settled->size(), 3u);
  ASSERT_TRUE((*settled)[0]);
  EXPECT_EQ((*settled)[0]->state, TaskState::kDone);
  ASSERT_FALSE((*settled)[1]);
  EXPECT_EQ((*settled)[1].error().code, Errc::kConflict);
  ASSERT_TRUE((*settled)[2]);
  EXPECT_EQ((*settled)[2]->state, TaskState::kScheduled);
  EXPECT_EQ((*settled)[2]->due_at_ms, kNow + 5'000);
  EXPECT_EQ(TopicCount(*engine_, "many", TopicEvent::kDelivered), 1u);
  EXPECT_EQ(TopicCount(*engine_, "many", TopicEvent::kFailed), 1u);
  // The nacked task comes back at its delay, and only then.
  EXPECT_TRUE(ClaimNow(*engine_, "many", 3).empty());
  clock_.Advance(5'000);
  bool back = false;
  for (int i = 0; i < 500 && !back; ++i) {
    std::vector<Task> again = ClaimNow(*engine_, "many", 3);
    back = again.size() == 1 && again.front().id == leased[2].id;
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(back) << "the nacked task was not due again after its delay";
}

// A batch the store worker's queue cannot take whole is refused whole: nothing applied. (The
// bound counts a round's work until the round ends, so the claim just answered may still count
// one: the batch that must fit leaves room for it.)
TEST_F(EngineTest, SettleManyBeyondTheQueueBoundIsRefusedWholeAndAppliesNothing) {
  Close();
  engine_config_.max_queued = 4;
  Open();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Add("bound", kNow));
  std::vector<Task> leased = ClaimNow(*engine_, "bound", 5);
  ASSERT_EQ(leased.size(), 5u);
  std::vector<Engine::LeaseEnd> ends;
  for (const Task& task : leased) ends.push_back({task.id, task.lease_token, false, 0});
  auto settled = SettleMany(*engine_, ends);
  ASSERT_FALSE(settled);
  EXPECT_EQ(settled.error().code, Errc::kOverloaded);
  for (const Task& task : leased) EXPECT_EQ(engine_->Get(task.id)->state, TaskState::kLeased);
  ends.resize(3);
  auto fits = SettleMany(*engine_, ends);
  ASSERT_TRUE(fits) << fits.error().message;
  ASSERT_EQ(fits->size(), 3u);
  for (const Result<Task>& task : *fits) EXPECT_EQ(task->state, TaskState::kDone);
  EXPECT_EQ(engine_->Get(leased[4].id)->state, TaskState::kLeased);
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
  // A task finished 600 ms before `id`: once a purge round has deleted it, that round has
  // also looked at `id`.
  TaskId older = Add("t", kNow)->front();
  ASSERT_TRUE(Pull("t")->has_value());
  clock_.Advance(600);
  TaskId id = Add("t", kNow)->front();
  ASSERT_TRUE(Pull("t")->has_value());
  EXPECT_TRUE(engine_->Get(id));
  clock_.Advance(500);
  // Still within retention: stays readable.
  ASSERT_TRUE(testing::WaitFor([&] { return !engine_->Get(older); }, std::chrono::seconds(5)));
  EXPECT_TRUE(engine_->Get(id));
  clock_.Advance(1000);
  EXPECT_TRUE(testing::WaitFor([&] { return !engine_->Get(id); }, std::chrono::seconds(5)));
  EXPECT_EQ(engine_->Get(id).error().code, Errc::kNotFound);
}

// A receiver that holds every call until `batch` calls are in flight or no new call came for
// 10 ms, then answers them all 200: so the engine's limits, not the receiver's speed,
// decide how many calls are in flight at once.
class HoldingSink final : public CallbackSink {
 public:
  explicit HoldingSink(size_t batch) : batch_(batch), thread_([this] { Run(); }) {}
  ~HoldingSink() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  void Deliver(const Task& task, std::function<void(CallbackOutcome)> done) override {
    {
      std::lock_guard lock(mu_);
      held_.emplace_back(task, std::move(done));
      calls_[task.id] += 1;
      by_topic_[task.topic] += 1;
      max_held_ = std::max(max_held_, held_.size());
      max_topic_ = std::max(max_topic_, by_topic_[task.topic]);
    }
    wake_.notify_all();
  }

  std::map<TaskId, int> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  size_t max_held() {
    std::lock_guard lock(mu_);
    return max_held_;
  }
  size_t max_per_topic() {
    std::lock_guard lock(mu_);
    return max_topic_;
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      size_t before = held_.size();
      wake_.wait_for(lock, std::chrono::milliseconds(10),
                     [&] { return stopping_ || held_.size() >= batch_; });
      if (held_.empty() || (held_.size() < batch_ && held_.size() != before)) continue;
      std::deque<std::pair<Task, std::function<void(CallbackOutcome)>>> answer;
      answer.swap(held_);
      for (auto& [task, done] : answer) by_topic_[task.topic] -= 1;
      lock.unlock();
      for (auto& [task, done] : answer) done(CallbackOutcome{200, ""});
      lock.lock();
    }
  }

  const size_t batch_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::pair<Task, std::function<void(CallbackOutcome)>>> held_;
  std::map<TaskId, int> calls_;
  std::map<std::string, size_t> by_topic_;
  size_t max_held_ = 0;
  size_t max_topic_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

TEST_F(EngineTest, ManyTopicsWithOneCallbackEachAreAllCalledOnceWithinTheGlobalCap) {
  Close();
  constexpr size_t kCap = 16;
  constexpr int kTopics = 2000;
  // Holds calls until one more than the cap is in flight, which only a broken cap reaches.
  HoldingSink sink(/*batch=*/kCap + 1);
  callbacks_ = &sink;
  engine_config_.max_callbacks_in_flight = kCap;
  Open();
  std::vector<std::string> topics;
  for (int i = 0; i < kTopics; ++i) topics.push_back("topic-" + std::to_string(i));
  std::vector<TaskId> ids = AddCallbacks(topics);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kTopics));
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto task = engine_->Get(ids.back());
        return sink.calls().size() == ids.size() && task && task->state == TaskState::kDone;
      },
      std::chrono::seconds(60)))
      << sink.calls().size() << " of " << ids.size() << " called";
  auto calls = sink.calls();
  for (TaskId id : ids) EXPECT_EQ(calls[id], 1) << "task " << id;
  EXPECT_EQ(sink.max_held(), kCap);  // the cap was reached and never exceeded
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        for (TaskId id : ids) {
          auto task = engine_->Get(id);
          if (!task || task->state != TaskState::kDone) return false;
        }
        return true;
      },
      std::chrono::seconds(30)));
  EXPECT_TRUE(engine_->WaitForCallbacks(std::chrono::seconds(5)));
  Close();
  callbacks_ = nullptr;
}

TEST_F(EngineTest, PerTopicInFlightLimitHoldsUnderTheGlobalCap) {
  Close();
  HoldingSink sink(/*batch=*/1000);
  callbacks_ = &sink;
  engine_config_.max_callbacks_in_flight = 64;
  engine_config_.default_topic_limits.max_in_flight = 5;
  Open();
  std::vector<std::string> topics(200, "busy");
  for (int i = 0; i < 20; ++i) topics.push_back("quiet-" + std::to_string(i));
  std::vector<TaskId> ids = AddCallbacks(topics);
  ASSERT_EQ(ids.size(), topics.size());
  ASSERT_TRUE(
      testing::WaitFor([&] { return sink.calls().size() == ids.size(); }, std::chrono::seconds(60)))
      << sink.calls().size() << " of " << ids.size() << " called";
  auto calls = sink.calls();
  for (TaskId id : ids) EXPECT_EQ(calls[id], 1) << "task " << id;
  EXPECT_EQ(sink.max_per_topic(), 5u);  // "busy" had 200 due and never more than 5 out
  EXPECT_LE(sink.max_held(), 64u);
  EXPECT_TRUE(engine_->WaitForCallbacks(std::chrono::seconds(10)));
  Close();
  callbacks_ = nullptr;
}

}  // namespace
}  // namespace delayq::engine
