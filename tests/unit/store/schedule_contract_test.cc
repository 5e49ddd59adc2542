// The Store contract for schedules: records, the version check that makes each change one
// winner's, the due index and the listings, alike on every backend.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/store.h"
#include "support/temp_dir.h"
#include "unit/store/store_backends.h"

namespace delayq::store {
namespace {

class ScheduleContract : public BackendTest {
 protected:
  uint64_t Put(const std::string& name, const std::string& topic, int64_t next_ms,
               uint64_t expected = 0, std::string body = "b") {
    auto version = store_->PutSchedule(ScheduleRecord{name, topic, next_ms, 0, body}, expected);
    EXPECT_TRUE(version) << name << ": " << version.error().message;
    return version.value_or(0);
  }

  std::vector<std::string> Names(const Result<std::vector<ScheduleRecord>>& records) {
    EXPECT_TRUE(records) << records.error().message;
    std::vector<std::string> names;
    if (records) {
      for (const ScheduleRecord& r : *records) names.push_back(r.name);
    }
    return names;
  }
};

TEST_P(ScheduleContract, PutChecksTheVersion) {
  EXPECT_EQ(Put("nightly", "reports", 1000), 1u);
  // A second create, or a write based on a version that is not current, changes nothing.
  auto again = store_->PutSchedule(ScheduleRecord{"nightly", "other", 5, 0, "x"}, 0);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kConflict);
  auto stale = store_->PutSchedule(ScheduleRecord{"nightly", "other", 5, 0, "x"}, 7);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, Errc::kConflict);
  EXPECT_EQ(Put("nightly", "reports", 2000, 1, "second"), 2u);
  auto got = store_->GetSchedule("nightly");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->version, 2u);
  EXPECT_EQ((*got)->topic, "reports");
  EXPECT_EQ((*got)->next_ms, 2000);
  EXPECT_EQ((*got)->body, "second");
  auto none = store_->GetSchedule("missing");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_P(ScheduleContract, DueIndexFollowsNextMs) {
  Put("a", "t", 100);
  Put("b", "t", 50);
  Put("paused", "t", kNoDeadline);
  EXPECT_EQ(*store_->NextScheduleMs(), 50);
  EXPECT_EQ(Names(store_->DueSchedules(49, 10)), std::vector<std::string>{});
  EXPECT_EQ(Names(store_->DueSchedules(75, 10)), std::vector<std::string>{"b"});
  EXPECT_EQ(Names(store_->DueSchedules(100, 10)), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(Names(store_->DueSchedules(100, 1)), std::vector<std::string>{"b"});
  Put("b", "t", kNoDeadline, 1);
  EXPECT_EQ(Names(store_->DueSchedules(1'000'000, 10)), std::vector<std::string>{"a"});
  Put("a", "t", 1'800'000'000'000, 1);
  EXPECT_EQ(*store_->NextScheduleMs(), 1'800'000'000'000);
  auto due = store_->DueSchedules(1'800'000'000'000, 10);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ(due->front().next_ms, 1'800'000'000'000);
  EXPECT_EQ(due->front().version, 2u);
  ASSERT_TRUE(store_->DeleteSchedule("a"));
  EXPECT_EQ(*store_->NextScheduleMs(), kNoDeadline);
}

TEST_P(ScheduleContract, ListsPageInNameOrderByTopic) {
  for (const char* name : {"c", "a", "b"}) Put(name, "t1", 10);
  Put("d", "t2", 10);
  EXPECT_EQ(Names(store_->ListSchedules("t1", "", 2)), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Names(store_->ListSchedules("t1", "b", 2)), std::vector<std::string>{"c"});
  EXPECT_EQ(Names(store_->ListSchedules("", "", 10)),
            (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(Names(store_->ListSchedules("", "c", 10)), std::vector<std::string>{"d"});
  // Moving a schedule to another topic moves it between the listings.
  Put("c", "t2", 10, 1);
  EXPECT_EQ(Names(store_->ListSchedules("t1", "", 10)), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Names(store_->ListSchedules("t2", "", 10)), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(Names(store_->ListSchedules("t3", "", 10)), std::vector<std::string>{});
}

TEST_P(ScheduleContract, DeleteRemovesFromEveryIndex) {
  Put("gone", "t", 10);
  auto deleted = store_->DeleteSchedule("gone");
  ASSERT_TRUE(deleted);
  EXPECT_TRUE(*deleted);
  EXPECT_FALSE(*store_->GetSchedule("gone"));
  EXPECT_EQ(Names(store_->DueSchedules(100, 10)), std::vector<std::string>{});
  EXPECT_EQ(Names(store_->ListSchedules("t", "", 10)), std::vector<std::string>{});
  EXPECT_EQ(Names(store_->ListSchedules("", "", 10)), std::vector<std::string>{});
  EXPECT_FALSE(*store_->DeleteSchedule("gone"));
  // The name can be created again from version 0.
  EXPECT_EQ(Put("gone", "t", 10), 1u);
}

TEST_P(ScheduleContract, BodiesAreBytesAndSurviveReopen) {
  std::string body("\0\x01\xff{\"x\":1}", 11);
  Put("binary", "t", 42, 0, body);
  Reopen();
  auto got = store_->GetSchedule("binary");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->body, body);
  EXPECT_EQ((*got)->next_ms, 42);
  EXPECT_EQ(Names(store_->DueSchedules(42, 10)), std::vector<std::string>{"binary"});
}

INSTANTIATE_TEST_SUITE_P(Rocksdb, ScheduleContract, ::testing::Values(RocksdbBackend()),
                         BackendName);
INSTANTIATE_TEST_SUITE_P(Redis, ScheduleContract, ::testing::Values(RedisBackend()), BackendName);
INSTANTIATE_TEST_SUITE_P(RedisCluster, ScheduleContract, ::testing::Values(RedisClusterBackend()),
                         BackendName);

}  // namespace
}  // namespace delayq::store
