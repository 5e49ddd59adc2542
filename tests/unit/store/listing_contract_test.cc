// The listing and horizon part of the Store contract, on every backend: a topic's scheduled
// tasks in due order, filtered by range, paged by position without loss or repeat while tasks
// are added, each page within its scan budget; and due counts per bucket that match the
// truth (exactly, or within the documented error when a bucket is estimated).

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <span>

#include "store/store.h"
#include "unit/store/store_backends.h"

namespace delayq::store {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;
constexpr int64_t kMinute = 60'000;

class ListingContract : public BackendTest {
 protected:
  // Ids of one digit count: Redis orders equal due times by the id's decimal text.
  Task Make(const std::string& topic, int64_t due_at_ms, DeliveryKind kind = DeliveryKind::kPull) {
    Task task;
    task.id = ++next_id_;
    task.topic = topic;
    task.due_at_ms = due_at_ms;
    task.created_at_ms = kNow;
    task.payload = "p";
    task.kind = kind;
    if (kind == DeliveryKind::kCallback) task.callback = R"({"url":"http://127.0.0.1:1/"})";
    return task;
  }

  TaskId AddOne(const std::string& topic, int64_t due_at_ms,
                DeliveryKind kind = DeliveryKind::kPull) {
    Task task = Make(topic, due_at_ms, kind);
    EXPECT_TRUE(store_->Add(std::span<const Task>(&task, 1)));
    return task.id;
  }

  void AddMany(std::vector<Task>& tasks) {
    for (size_t i = 0; i < tasks.size(); i += 1000) {
      size_t n = std::min<size_t>(1000, tasks.size() - i);
      auto added = store_->Add(std::span<const Task>(tasks.data() + i, n));
      ASSERT_TRUE(added) << added.error().message;
    }
  }

  // Every page of `query` from the start, in order; each page checked against its budget.
  std::vector<Task> ReadAll(ScheduledQuery query, size_t* pages = nullptr) {
    std::vector<Task> all;
    for (size_t page_count = 1;; ++page_count) {
      auto page = store_->ListScheduled(query);
      EXPECT_TRUE(page) << page.error().message;
      if (!page) return all;
      EXPECT_LE(page->tasks.size(), query.limit);
      EXPECT_LE(page->scanned, query.scan_budget);
      all.insert(all.end(), page->tasks.begin(), page->tasks.end());
      if (!page->next) {
        if (pages) *pages = page_count;
        return all;
      }
      EXPECT_TRUE(!query.after || *query.after < *page->next) << "a cursor must move on";
      if (query.after && *page->next <= *query.after) return all;
      query.after = page->next;
    }
  }

  static std::vector<TaskId> Ids(const std::vector<Task>& tasks) {
    std::vector<TaskId> ids;
    for (const Task& t : tasks) ids.push_back(t.id);
    return ids;
  }

  TaskId next_id_ = 1'000'000;
};

TEST_P(ListingContract, ListsOneTopicsScheduledTasksInDueOrderWithinTheRange) {
  TaskId late = AddOne("a", kNow + 5000);
  TaskId early = AddOne("a", kNow + 1000);
  TaskId hook = AddOne("a", kNow + 3000, DeliveryKind::kCallback);
  TaskId past = AddOne("a", kNow - 2000);
  AddOne("b", kNow + 2000);
  TaskId cancelled = AddOne("a", kNow + 4000);
  TaskId leased = AddOne("a", kNow - 3000);
  ASSERT_TRUE(store_->Cancel(cancelled, kNow));
  ASSERT_TRUE(store_->Promote(kNow));
  auto claimed = store_->ClaimDue("a", DeliveryKind::kPull, 1, kNow, kNow + 2500);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(Ids(*claimed), std::vector<TaskId>{leased});

  ScheduledQuery query;
  query.topic = "a";
  EXPECT_EQ(Ids(ReadAll(query)), (std::vector<TaskId>{past, early, hook, late}))
      << "leased, cancelled and other topics' tasks are not scheduled tasks of this topic";
  auto first = store_->ListScheduled(query);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->tasks.size(), 4u);
  EXPECT_EQ(first->tasks[2].kind, DeliveryKind::kCallback);
  EXPECT_EQ(first->tasks[2].callback, R"({"url":"http://127.0.0.1:1/"})");
  EXPECT_EQ(first->tasks[0].state, TaskState::kScheduled);
  EXPECT_FALSE(first->next) << "the whole range was read";

  query.from_ms = kNow + 1000;  // inclusive
  query.to_ms = kNow + 5000;    // exclusive
  EXPECT_EQ(Ids(ReadAll(query)), (std::vector<TaskId>{early, hook}));
  query.to_ms = kNow + 5001;
  query.limit = 1;
  size_t pages = 0;
  EXPECT_EQ(Ids(ReadAll(query, &pages)), (std::vector<TaskId>{early, hook, late}));
  EXPECT_GE(pages, 3u);
  query.topic = "nosuch";
  EXPECT_TRUE(ReadAll(query).empty());
}

TEST_P(ListingContract, PagesThroughThousandsWithoutLossOrRepeatWhileTasksAreAdded) {
  // Half share one due time, so that pages also end inside a run of equal due times.
  std::vector<Task> tasks;
  for (int i = 0; i < 3000; ++i) {
    tasks.push_back(Make("big", i % 2 == 0 ? kNow + 60'000 : kNow + (i % 997) * 100));
  }
  tasks.push_back(Make("other", kNow + 60'000));
  AddMany(tasks);
  std::vector<Task> expected(tasks.begin(), tasks.end() - 1);
  std::ranges::sort(expected, [](const Task& x, const Task& y) {
    return DueKey{x.due_at_ms, x.id} < DueKey{y.due_at_ms, y.id};
  });

  ScheduledQuery query;
  query.topic = "big";
  query.limit = 97;
  std::vector<TaskId> seen;
  std::set<TaskId> added_later;
  int64_t last_due = -1;
  for (int round = 0;; ++round) {
    auto page = store_->ListScheduled(query);
    ASSERT_TRUE(page) << page.error().message;
    for (const Task& t : page->tasks) {
      EXPECT_GE(t.due_at_ms, last_due) << "due order";
      last_due = t.due_at_ms;
      seen.push_back(t.id);
    }
    if (!page->next) break;
    query.after = page->next;
    // Adds meanwhile, before and after the cursor and at its very due time.
    for (int64_t due : {kNow - 1, page->next->due_at_ms, kNow + 200'000}) {
      TaskId id = AddOne("big", due);
      added_later.insert(id);
    }
    ASSERT_LT(round, 1000);
  }
  std::vector<TaskId> original;
  for (TaskId id : seen) {
    if (!added_later.contains(id)) original.push_back(id);
  }
  EXPECT_EQ(original, Ids(expected)) << "every task present from the start, once, in order";
  std::set<TaskId> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size()) << "no task twice";
  for (TaskId id : seen) {
    if (added_later.contains(id)) {
      auto task = store_->Get(id);
      ASSERT_TRUE(task);
      EXPECT_NE(task->due_at_ms, kNow - 1) << "a task added behind the cursor is not listed";
    }
  }
}

TEST_P(ListingContract, AScanBudgetBoundsAPageAndItsCursorGoesOn) {
  std::vector<Task> tasks;
  for (int i = 0; i < 300; ++i) tasks.push_back(Make("crowd", kNow + i));
  tasks.push_back(Make("rare", kNow + 400));
  AddMany(tasks);
  ScheduledQuery query;
  query.topic = "rare";
  query.scan_budget = 50;
  auto all = ReadAll(query);
  EXPECT_EQ(Ids(all), std::vector<TaskId>{tasks.back().id});

  query.topic = "crowd";
  query.limit = 1000;
  size_t pages = 0;
  EXPECT_EQ(ReadAll(query, &pages).size(), 300u);
  EXPECT_GE(pages, 6u) << "300 entries with a budget of 50 entries per page";
}

TEST_P(ListingContract, TheHorizonCountsEachBucketExactlyWhenItHoldsFewEntries) {
  std::map<int, int64_t> per_minute_a;  // minute index -> count
  std::vector<Task> tasks;
  for (int minute : {0, 0, 1, 7, 7, 7, 59}) {
    tasks.push_back(Make("a", kNow + minute * kMinute + 17));
    ++per_minute_a[minute];
  }
  tasks.push_back(Make("a", kNow + 59 * kMinute + kMinute - 1, DeliveryKind::kCallback));
  ++per_minute_a[59];
  tasks.push_back(Make("a", kNow + 60 * kMinute));  // just past the hour
  tasks.push_back(Make("a", kNow - 5));             // overdue
  tasks.push_back(Make("a", kNow - 50'000));        // overdue
  tasks.push_back(Make("b", kNow + 7 * kMinute));
  tasks.push_back(Make("b", kNow - 1));
  AddMany(tasks);

  auto a = store_->Horizon("a", kNow, kMinute, 60);
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_EQ(a->buckets.size(), 60u);
  EXPECT_EQ(a->overdue.count, 2);
  EXPECT_TRUE(a->overdue.exact);
  for (int i = 0; i < 60; ++i) {
    EXPECT_EQ(a->buckets[i].start_ms, kNow + i * kMinute);
    EXPECT_EQ(a->buckets[i].count, per_minute_a[i]) << "minute " << i;
    EXPECT_TRUE(a->buckets[i].exact) << "minute " << i;
  }
  auto all = store_->Horizon("", kNow, kMinute, 60);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->overdue.count, 3);
  EXPECT_EQ(all->buckets[7].count, 4);
  EXPECT_EQ(all->buckets[0].count, 2);
  EXPECT_FALSE(all->topics_left_out);

  auto hours = store_->Horizon("a", kNow, 60 * kMinute, 168);
  ASSERT_TRUE(hours);
  EXPECT_EQ(hours->buckets[0].count, 8);
  EXPECT_EQ(hours->buckets[1].count, 1);
}

TEST_P(ListingContract, ABucketWithManyEntriesIsCountedOrEstimatedCloselyAndSaysWhich) {
  std::vector<Task> tasks;
  for (int i = 0; i < 6000; ++i) tasks.push_back(Make(i % 3 == 0 ? "t" : "u", kNow + i * 5));
  AddMany(tasks);
  auto all = store_->Horizon("", kNow, kMinute, 2);
  ASSERT_TRUE(all) << all.error().message;
  // The first minute holds 6,000 x 5 ms = 30 s of entries: 6,000; the second none.
  auto check = [](const HorizonBucket& bucket, int64_t truth) {
    if (bucket.exact) {
      EXPECT_EQ(bucket.count, truth);
    } else {
      EXPECT_NEAR(static_cast<double>(bucket.count), static_cast<double>(truth), 0.25 * truth)
          << "an estimated bucket stays within the documented error";
    }
  };
  check(all->buckets[0], 6000);
  EXPECT_EQ(all->buckets[1].count, 0);
  EXPECT_TRUE(all->buckets[1].exact);
  auto t = store_->Horizon("t", kNow, kMinute, 2);
  ASSERT_TRUE(t);
  check(t->buckets[0], 2000);
  // Reopened, the embedded store's entries are in a table file rather than the memtable.
  Reopen();
  auto reopened = store_->Horizon("", kNow, kMinute, 2);
  ASSERT_TRUE(reopened);
  check(reopened->buckets[0], 6000);
  auto t_reopened = store_->Horizon("t", kNow, kMinute, 2);
  ASSERT_TRUE(t_reopened);
  check(t_reopened->buckets[0], 2000);
}

INSTANTIATE_TEST_SUITE_P(Rocksdb, ListingContract, ::testing::Values(RocksdbBackend()),
                         BackendName);
INSTANTIATE_TEST_SUITE_P(Redis, ListingContract, ::testing::Values(RedisBackend()), BackendName);
INSTANTIATE_TEST_SUITE_P(RedisCluster, ListingContract, ::testing::Values(RedisClusterBackend()),
                         BackendName);

}  // namespace
}  // namespace delayq::store
