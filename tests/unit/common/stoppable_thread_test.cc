#include "common/stoppable_thread.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

namespace delayq {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// A wait far longer than any test: if Stop did not wake it, the test would hit ctest's timeout.
constexpr milliseconds kForever{600'000};

TEST(StoppableThread, StopWakesALongWaitAndTheBodyReturns) {
  StoppableThread thread;
  std::atomic<bool> waiting = false, returned_false = false;
  thread.Start([&] {
    std::unique_lock lock(thread.mutex());
    waiting = true;
    returned_false = !thread.WaitFor(lock, kForever, [] { return false; });
  });
  while (!waiting) std::this_thread::yield();
  auto asked = steady_clock::now();
  thread.Stop();
  EXPECT_TRUE(returned_false);
  EXPECT_LT(steady_clock::now() - asked, std::chrono::seconds(60));
  EXPECT_TRUE(thread.stopping());
}

TEST(StoppableThread, AStopRequestedBeforeTheWaitIsNotLost) {
  StoppableThread thread;
  EXPECT_TRUE(thread.RequestStop());
  EXPECT_FALSE(thread.RequestStop()) << "only the first request reports true";
  bool slept = true;
  thread.Start([&] { slept = thread.SleepFor(kForever); });
  thread.Join();
  EXPECT_FALSE(slept);
}

TEST(StoppableThread, WaitReturnsTrueWhenReadyWithoutAStop) {
  StoppableThread thread;
  bool ready = false, result = false;
  thread.Start([&] {
    std::unique_lock lock(thread.mutex());
    result = thread.Wait(lock, [&] { return ready; });
  });
  {
    std::lock_guard lock(thread.mutex());
    ready = true;
  }
  thread.condition().notify_all();
  thread.Join();
  EXPECT_TRUE(result);
  EXPECT_FALSE(thread.stopping());
}

TEST(StoppableThread, StopWithoutStartAndTwiceIsSafe) {
  StoppableThread thread;
  thread.Stop();
  thread.Stop();
  EXPECT_TRUE(thread.stopping());
}

}  // namespace
}  // namespace delayq
