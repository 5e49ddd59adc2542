#include "engine/store_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "common/clock.h"
#include "support/failing_store.h"
#include "support/temp_dir.h"

namespace delayq::engine {
namespace {

// Each Add waits (up to 500 ms) until `wanted` Adds have been in progress at once; records
// the most.
struct AddGate {
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  int wanted = 2;
  void Enter() {
    int now = ++inside;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    while (most.load() < wanted && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    --inside;
  }
};

Task NewTask(TaskId id) {
  Task task;
  task.id = id;
  task.topic = "t";
  task.due_at_ms = 1;
  return task;
}

size_t MostAddsInFlight(size_t add_threads) {
  testing::TempDir dir;
  store::StoreConfig config;
  config.data_dir = dir.Sub("data");
  auto real = store::OpenStore(config);
  EXPECT_TRUE(real);
  testing::FailingStore store(std::move(*real));
  AddGate gate;
  store.before_add = [&] { gate.Enter(); };
  Metrics metrics;
  StoreWorker worker(store, SystemClock::Instance(), metrics, 1000, add_threads);
  worker.Start();
  std::promise<bool> first, second;
  EXPECT_TRUE(worker.SubmitAdd({NewTask(1)}, [&](auto r) { first.set_value(bool(r)); }));
  // The second add arrives while the first is held inside Store::Add.
  while (gate.inside.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE(worker.SubmitAdd({NewTask(2)}, [&](auto r) { second.set_value(bool(r)); }));
  EXPECT_TRUE(first.get_future().get());
  EXPECT_TRUE(second.get_future().get());
  worker.Stop();
  EXPECT_TRUE(store.Get(1));
  EXPECT_TRUE(store.Get(2));
  return static_cast<size_t>(gate.most.load());
}

TEST(StoreWorker, OneAddThreadCommitsOneBatchAtATime) { EXPECT_EQ(MostAddsInFlight(1), 1u); }

TEST(StoreWorker, TwoAddThreadsKeepASecondBatchInFlight) { EXPECT_EQ(MostAddsInFlight(2), 2u); }

}  // namespace
}  // namespace delayq::engine
