// Writes, free space, health and recovery of the embedded store: a failed write marks it
// unhealthy, and Healthy resumes RocksDB or reopens the database.

#include <sys/statvfs.h>

#include "store/rocksdb_store_impl.h"

namespace delayq::store::rocks {

Result<void> RocksStore::Sync() {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  // After a failed log write RocksDB's log writer is in an error state, and syncing it
  // again trips an assertion in Debian's librocksdb (built with assertions): the process
  // would abort at shutdown. What was acknowledged is durable already (fsync mode) or in
  // the page cache (buffered); what failed was never acknowledged.
  if (!healthy_.load() || plan_.listener->stopped()) {
    return Fail(Errc::kUnavailable,
                "storage sync skipped: the store has a write error (" + HealthProblem() + ")");
  }
  rocksdb::Status s = db_->SyncWAL();
  if (!s.ok()) return Fail(Errc::kUnavailable, "storage sync failed: " + s.ToString());
  return {};
}

bool RocksStore::Healthy() {
  if (healthy_.load() && !plan_.listener->stopped() && !disk_low_.load()) return true;
  // Nothing else may write again (a drained instance gets no traffic), so each call
  // tries to recover; one at a time, the others answer "not yet".
  std::unique_lock recovering(recover_mu_, std::try_to_lock);
  if (!recovering.owns_lock()) return false;
  if (disk_low_.load() && !CheckFreeSpace()) return false;
  if (plan_.listener->stopped() && !Resume()) return false;
  std::shared_lock db_lock(db_mu_);
  if (!db_) return false;
  if (!healthy_.load()) {
    Batch probe;
    probe.Put(meta_cf_, "probe", EncodeInt64(0));
    if (!Write(unsynced_options_, &probe)) return false;
  }
  return !plan_.listener->stopped();
}

std::string RocksStore::HealthProblem() {
  std::lock_guard lock(problem_mu_);
  return problem_;
}

std::unexpected<Error> RocksStore::ReadFailed(const rocksdb::Status& s) {
  return Fail(Errc::kUnavailable, "storage read failed: " + s.ToString());
}

Result<void> RocksStore::Write(const rocksdb::WriteOptions& options, Batch* batch) {
  for (const auto& [key, delta] : batch->counts) {
    if (delta != 0) batch->Merge(meta_cf_, key, EncodeInt64(delta));
  }
  batch->counts.clear();
  rocksdb::Status s = db_->Write(options, batch);
  if (!s.ok()) {
    healthy_.store(false);
    std::string message = WriteFailure(s);
    SetProblem(message);
    return Fail(Errc::kUnavailable, std::move(message));
  }
  healthy_.store(true);
  return {};
}

// What a client is told when a write fails. Whatever RocksDB reports (its background
// error once it has stopped writes), a full disk is named as such, with what to do.
std::string RocksStore::WriteFailure(const rocksdb::Status& s) const {
  if (IsNoSpace(s)) {
    return "disk full: storage write failed (" + s.ToString() +
           "); free space on the filesystem of data_dir '" + config_.data_dir +
           "', delayq resumes by itself";
  }
  return "storage write failed: " + s.ToString() + " (check the disk of data_dir '" +
         config_.data_dir + "'; delayq reopens the store by itself once it can)";
}

void RocksStore::SetProblem(std::string problem) {
  std::lock_guard lock(problem_mu_);
  problem_ = std::move(problem);
}

// Adds stop while the filesystem has less free space than the reserve, so that what is
// left lets deliveries be recorded and RocksDB flush (StoreConfig::min_free_disk_bytes).
// One statvfs per add round: about a microsecond.
Result<void> RocksStore::CheckFreeSpace() {
  if (config_.min_free_disk_bytes == 0) return {};
  struct statvfs fs {};
  if (statvfs(config_.data_dir.c_str(), &fs) != 0) return {};  // unknown: let RocksDB try
  uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  uint64_t reserve = std::min<uint64_t>(config_.min_free_disk_bytes,
                                        static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize / 10);
  if (free_bytes >= reserve) {
    if (disk_low_.exchange(false) && healthy_.load()) SetProblem("");
    return {};
  }
  std::string message = "disk full: the filesystem of data_dir '" + config_.data_dir + "' has " +
                        MiB(free_bytes) + " free, less than the " + MiB(reserve) +
                        " kept for deliveries (limits.min_free_disk); free space there, "
                        "adds resume by themselves";
  disk_low_.store(true);
  SetProblem(message);
  return Fail(Errc::kUnavailable, std::move(message));
}

// Clears a background error: RocksDB's own Resume first (it flushes the memtables and
// starts a new log); when RocksDB cannot resume (an I/O error it treats as fatal, such as
// a failed fsync of the log), the database is closed and opened again, which replays the
// log as a restart would. Caller holds recover_mu_ and nothing else.
bool RocksStore::Resume() {
  rocksdb::Status resumed;
  {
    std::shared_lock db_lock(db_mu_);
    if (!db_) return Reopen(db_lock);
    resumed = db_->Resume();
  }
  if (resumed.ok()) {
    plan_.listener->Clear();
    return true;
  }
  if (resumed.IsBusy()) return false;  // RocksDB's own recovery is running
  if (IsNoSpace(resumed) && resumed.severity() < rocksdb::Status::Severity::kFatalError) {
    return false;  // still full: RocksDB resumes once there is room
  }
  std::shared_lock<std::shared_mutex> none;
  return Reopen(none);
}

// `held` is released first if it holds db_mu_.
bool RocksStore::Reopen(std::shared_lock<std::shared_mutex>& held) {
  if (held.owns_lock()) held.unlock();
  std::unique_lock db_lock(db_mu_);
  Detach();
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(plan_.options, config_.data_dir, plan_.families, &handles, &raw);
  if (!s.ok()) {
    SetProblem("storage closed after a write error and cannot be opened again yet: " +
               s.ToString());
    return false;
  }
  plan_.listener->Clear();
  Attach(std::unique_ptr<rocksdb::DB>(raw), std::move(handles));
  healthy_.store(false);  // the caller's probe write decides
  return true;
}

// Takes over an open database. Caller holds db_mu_ exclusively (or constructs).
void RocksStore::Attach(std::unique_ptr<rocksdb::DB> db,
                        std::vector<rocksdb::ColumnFamilyHandle*> handles) {
  db_ = std::move(db);
  handles_ = std::move(handles);
  meta_cf_ = handles_[0];
  tasks_cf_ = handles_[1];
  due_cf_ = handles_[2];
  leases_cf_ = handles_[3];
  finished_cf_ = handles_[4];
  dead_cf_ = handles_[5];
  dedup_cf_ = handles_[6];
}

void RocksStore::Detach() {
  // No write is in progress (db_mu_ is held exclusively, or the store is being destroyed);
  // what was written before a failed write is read back from the reopened database.
  taken_.clear();
  taken_bytes_ = 0;
  if (!db_) return;
  for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
  handles_.clear();
  db_->Close();
  db_.reset();
}

std::unexpected<Error> RocksStore::Closed() {
  return Fail(Errc::kUnavailable,
              "storage unavailable: the store was closed after a write "
              "error and is not open again yet (" +
                  HealthProblem() + "); retry later");
}

}  // namespace delayq::store::rocks
