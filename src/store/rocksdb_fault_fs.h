#pragma once

#include <rocksdb/file_system.h>

#include <memory>

#include "store/store.h"

namespace delayq::store {

// The fault seam of the RocksDB store's file layer: the default file system, except that
// while `faults` holds an errno, every append (or every sync) of a file RocksDB writes fails
// with it, as a failing disk's would (ENOSPC as RocksDB's own POSIX layer reports it:
// "No space left on device", retryable; anything else as an I/O error). Tests only
// (StoreConfig::file_faults); the server uses the plain default file system.
std::shared_ptr<rocksdb::FileSystem> NewFaultInjectingFileSystem(
    std::shared_ptr<FileFaults> faults);

}  // namespace delayq::store
