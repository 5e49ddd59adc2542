#pragma once

#include <rocksdb/env.h>

#include <memory>

namespace delayq::store {

// RocksDB's info log, written to delayq's own log (stderr) instead of DATA_DIR/LOG.
//
// Why not RocksDB's file logger: it writes through the same file layer as the data, on the
// same disk. Once one of its writes fails (disk full), the next log line trips an assertion
// in Debian's librocksdb (built without NDEBUG: `sync_without_flush_called_` in
// writable_file_writer.h) and the process aborts; every error path logs, so a full disk
// killed delayq. Messages keep their RocksDB level: warnings and errors at spdlog's, the
// chatty info level (options dump, every flush and compaction) at debug.
std::shared_ptr<rocksdb::Logger> NewInfoLogger();

}  // namespace delayq::store
