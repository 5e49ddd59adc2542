// The embedded store under file-layer faults (StoreConfig::file_faults): failed appends
// (ENOSPC) and failed fsyncs (EIO) of the files RocksDB writes. Every failure is an error
// value, never an abort (Debian's librocksdb is built with assertions, and several of its
// paths after a failed write assert); what was acknowledged stays; once the fault is gone
// the store recovers by itself, in the same process.

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>

#include "store/store.h"
#include "support/temp_dir.h"

namespace delayq::store {
namespace {

using testing::TempDir;

constexpr int64_t kNow = 1'700'000'000'000;

Task Make(TaskId id) {
  Task task;
  task.id = id;
  task.topic = "jobs";
  task.due_at_ms = kNow + 3'600'000;
  task.created_at_ms = kNow;
  task.payload = "payload-" + std::to_string(id);
  return task;
}

class StoreFaults : public ::testing::TestWithParam<Durability> {
 protected:
  std::unique_ptr<Store> Open() {
    StoreConfig config;
    config.data_dir = dir_.Sub("data");
    config.durability = GetParam();
    config.file_faults = faults_;
    auto store = OpenStore(config);
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }

  void ExpectStored(Store& store, TaskId id) {
    auto task = store.Get(id);
    ASSERT_TRUE(task) << id << ": " << task.error().message;
    EXPECT_EQ(task->payload, "payload-" + std::to_string(id));
  }

  // Healthy() is what the scheduler (once a second) and /readyz call to recover.
  static bool RecoversWithin(Store& store, int attempts) {
    for (int i = 0; i < attempts; ++i) {
      if (store.Healthy()) return true;
    }
    return false;
  }

  TempDir dir_;
  std::shared_ptr<FileFaults> faults_ = std::make_shared<FileFaults>();
};

TEST_P(StoreFaults, FailedFsyncIsAnErrorAndTheStoreReopensItselfAfterwards) {
  auto store = Open();
  ASSERT_TRUE(store);
  Task first = Make(1);
  ASSERT_TRUE(store->Add({&first, 1}));
  Task cancelled = Make(3);
  ASSERT_TRUE(store->Add({&cancelled, 1}));

  faults_->sync_errno = EIO;
  Task during = Make(2);
  auto failed = store->Add({&during, 1});
  if (GetParam() == Durability::kFsync) {
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, Errc::kUnavailable);
    EXPECT_NE(failed.error().message.find("storage write failed"), std::string::npos)
        << failed.error().message;
    EXPECT_NE(failed.error().message.find("Input/output error"), std::string::npos)
        << failed.error().message;
    // RocksDB refuses every write now; reads go on (until a recovery attempt closes the
    // database to reopen it, which fails while the fault lasts).
    EXPECT_FALSE(store->Cancel(cancelled.id, kNow));
    ExpectStored(*store, first.id);
    // The shutdown sync must not touch the failed log (an assertion in librocksdb).
    EXPECT_FALSE(store->Sync());
    EXPECT_FALSE(store->Healthy());
    EXPECT_NE(store->HealthProblem().find("Input/output error"), std::string::npos);
  } else {
    // Buffered writes do not sync; the final sync fails instead, as an error.
    EXPECT_TRUE(failed) << failed.error().message;
    EXPECT_FALSE(store->Sync());
  }

  faults_->sync_errno = 0;
  EXPECT_TRUE(RecoversWithin(*store, 3)) << store->HealthProblem();
  Task after = Make(4);
  ASSERT_TRUE(store->Add({&after, 1}));
  EXPECT_TRUE(store->Cancel(cancelled.id, kNow));
  EXPECT_TRUE(store->Sync());
  ExpectStored(*store, first.id);
  ExpectStored(*store, after.id);

  store.reset();  // closes; a restart finds everything acknowledged
  store = Open();
  ASSERT_TRUE(store);
  ExpectStored(*store, first.id);
  ExpectStored(*store, after.id);
  auto state = store->Get(cancelled.id);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->state, TaskState::kCancelled);
}

TEST_P(StoreFaults, FailedAppendsReadAsDiskFullAndTheStoreResumes) {
  auto store = Open();
  ASSERT_TRUE(store);
  Task first = Make(1);
  ASSERT_TRUE(store->Add({&first, 1}));

  faults_->write_errno = ENOSPC;
  for (TaskId id = 2; id < 5; ++id) {
    Task task = Make(id);
    auto failed = store->Add({&task, 1});
    ASSERT_FALSE(failed);
    EXPECT_NE(failed.error().message.find("disk full"), std::string::npos)
        << failed.error().message;
  }
  EXPECT_FALSE(store->Healthy());  // a resume fails while the fault lasts, without abort
  EXPECT_FALSE(store->Healthy());
  EXPECT_NE(store->HealthProblem().find("disk full"), std::string::npos);
  EXPECT_FALSE(store->Sync());

  faults_->write_errno = 0;
  EXPECT_TRUE(RecoversWithin(*store, 3)) << store->HealthProblem();
  Task after = Make(10);
  ASSERT_TRUE(store->Add({&after, 1}));
  EXPECT_TRUE(store->Sync());
  store.reset();
  store = Open();
  ASSERT_TRUE(store);
  ExpectStored(*store, first.id);
  ExpectStored(*store, after.id);
}

INSTANTIATE_TEST_SUITE_P(Durability, StoreFaults,
                         ::testing::Values(Durability::kFsync, Durability::kBuffered),
                         [](const auto& info) {
                           return info.param == Durability::kFsync ? std::string("Fsync")
                                                                   : std::string("Buffered");
                         });

}  // namespace
}  // namespace delayq::store
