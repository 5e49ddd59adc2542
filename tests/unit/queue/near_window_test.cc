#include "queue/near_window.h"

#include <gtest/gtest.h>

namespace delayq {
namespace {

TEST(NearWindow, CursorDecidesWhatIsInMemory) {
  NearWindow window;
  EXPECT_FALSE(window.Covers(DueKey{0, 1}));
  window.SetCursor(DueKey{1000, 0});
  EXPECT_TRUE(window.Covers(DueKey{999, 42}));
  EXPECT_FALSE(window.Covers(DueKey{1000, 0}));
  EXPECT_FALSE(window.Covers(DueKey{1001, 1}));
}

TEST(NearWindow, PromotesDueTasksIntoTheirTopicOldestFirst) {
  NearWindow window;
  uint32_t orders = window.InternTopic("orders");
  uint32_t mail = window.InternTopic("mail");
  EXPECT_EQ(window.InternTopic("orders"), orders);
  window.Schedule(DueRef{{200, 5}, orders});
  window.Schedule(DueRef{{100, 7}, orders});
  window.Schedule(DueRef{{150, 6}, mail});
  window.Schedule(DueRef{{900, 8}, orders});

  std::vector<uint32_t> topics;
  EXPECT_EQ(window.Promote(99, 100, &topics), 0u);
  EXPECT_TRUE(topics.empty());
  EXPECT_EQ(window.Promote(200, 100, &topics), 3u);
  EXPECT_EQ(topics.size(), 2u);  // each topic reported once
  EXPECT_EQ(window.ReadyCount(orders), 2u);
  EXPECT_EQ(window.PopReady(orders)->key.id, 7u);
  EXPECT_EQ(window.PopReady(orders)->key.id, 5u);
  EXPECT_FALSE(window.PopReady(orders));
  EXPECT_EQ(window.PopReady(mail)->key.id, 6u);
  EXPECT_EQ(window.NextDeadlineMs(), 900);
  EXPECT_EQ(window.size(), 1u);
}

TEST(NearWindow, LateArrivalDueEarlierIsServedFirst) {
  NearWindow window;
  uint32_t t = window.InternTopic("t");
  std::vector<uint32_t> topics;
  window.Schedule(DueRef{{500, 20}, t});
  window.Promote(600, 100, &topics);
  // A task added later with a due time in the past goes ahead of the one already ready.
  window.Schedule(DueRef{{10, 30}, t});
  window.Promote(600, 100, &topics);
  EXPECT_EQ(window.PopReady(t)->key.id, 30u);
  EXPECT_EQ(window.PopReady(t)->key.id, 20u);
}

TEST(NearWindow, PushReadyRestoresATaskAfterAFailedTake) {
  NearWindow window;
  uint32_t t = window.InternTopic("t");
  std::vector<uint32_t> topics;
  window.Schedule(DueRef{{1, 1}, t});
  window.Promote(1, 10, &topics);
  auto ref = window.PopReady(t);
  ASSERT_TRUE(ref);
  window.PushReady(*ref);
  EXPECT_EQ(window.PopReady(t)->key.id, 1u);
}

// The clock the taker read can be behind the one that promoted (another thread, or the wall
// clock stepped back since): an entry due after the taker's now stays ready until then.
TEST(NearWindow, TakingAtAnEarlierNowLeavesEntriesNotYetDue) {
  NearWindow window;
  uint32_t t = window.InternTopic("t");
  std::vector<uint32_t> topics;
  window.Schedule(DueRef{{100, 1}, t});
  window.Schedule(DueRef{{3'600'100, 2}, t});
  window.Promote(3'600'200, 10, &topics);
  EXPECT_EQ(window.ReadyCount(t), 2u);
  EXPECT_TRUE(window.HasReady(t, 150));
  EXPECT_EQ(window.PopReady(t, 150)->key.id, 1u);
  EXPECT_FALSE(window.HasReady(t, 150));
  EXPECT_FALSE(window.PopReady(t, 150));
  EXPECT_EQ(window.ReadyCount(t), 1u);
  EXPECT_EQ(window.PopReady(t, 3'600'100)->key.id, 2u);
}

TEST(NearWindow, ManyTopicsPromoteInLinearTime) {
  NearWindow window;
  std::vector<uint32_t> topics;
  for (int i = 0; i < 100'000; ++i) {
    window.Schedule(
        DueRef{{5, static_cast<TaskId>(i + 1)}, window.InternTopic("t" + std::to_string(i))});
  }
  EXPECT_EQ(window.Promote(5, 1'000'000, &topics), 100'000u);
  EXPECT_EQ(topics.size(), 100'000u);
}

}  // namespace
}  // namespace delayq
