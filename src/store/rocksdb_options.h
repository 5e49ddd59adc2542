#pragma once

// How the embedded store opens RocksDB: the database and column-family options (memory
// bounds, bloom filters, compaction of queue-like indexes), the background-error listener and
// the plan kept to open the same database again. For rocksdb_*.cc only.

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/listener.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/store.h"

namespace delayq::store::rocks {

// Follows RocksDB's background error: set when RocksDB stops writes (a failed write-ahead
// log write or sync, a failed flush or MANIFEST write: disk full, I/O error), cleared when
// it has recovered. Called by RocksDB with its mutex held: it only records.
class ErrorListener final : public rocksdb::EventListener {
 public:
  void OnBackgroundError(rocksdb::BackgroundErrorReason, rocksdb::Status* error) override {
    if (error == nullptr || error->ok()) return;
    std::lock_guard lock(mu_);
    reason_ = error->ToString();
    stopped_.store(true);
  }

  // RocksDB's own recovery from a full disk (its SstFileManager) waits for as much free
  // space as the largest write buffer (64 MiB here), more than a small filesystem ever has,
  // and while it waits every manual Resume answers Busy. The store recovers by itself
  // instead (RocksStore::Resume, driven by Healthy).
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    if (auto_recovery != nullptr) *auto_recovery = false;
  }

  void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override {
    if (info.new_bg_error.ok()) Clear();
  }

  void Clear() {
    std::lock_guard lock(mu_);
    reason_.clear();
    stopped_.store(false);
  }

  bool stopped() const { return stopped_.load(); }
  std::string reason() const {
    std::lock_guard lock(mu_);
    return reason_;
  }

 private:
  std::atomic<bool> stopped_{false};
  mutable std::mutex mu_;
  std::string reason_;
};

// What DB::Open needs, kept so that the store can open the same database again after an
// error RocksDB cannot resume from.
struct OpenPlan {
  rocksdb::DBOptions options;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;  // in the handle order of RocksStore
  std::unique_ptr<rocksdb::Env> env;                      // the fault seam's, when set
  std::shared_ptr<ErrorListener> listener;
};

// A status of a full disk (RocksDB does not always give it IsNoSpace).
bool IsNoSpace(const rocksdb::Status& s);

// The options and column families of a store opened with `config`, in the handle order of
// RocksStore.
OpenPlan MakeOpenPlan(const StoreConfig& config);

}  // namespace delayq::store::rocks
