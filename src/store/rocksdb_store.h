#pragma once

#include <memory>

#include "store/store.h"

namespace delayq::store {

// The embedded backend: one process owns `data_dir` (RocksDB's LOCK file refuses a
// second one). On-disk layout in docs/ARCHITECTURE.md.
Result<std::unique_ptr<Store>> OpenRocksStore(const StoreConfig& config);

}  // namespace delayq::store
