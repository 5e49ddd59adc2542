// What RocksDB holds in memory, by kind, for /metrics: the figures that say whether memory
// grows with the backlog (table readers outside the block cache would) or stays within the
// cache that memtables and blocks share.

#include <rocksdb/db.h>

#include "store/rocksdb_store_impl.h"

namespace delayq::store::rocks {

std::vector<BackendMetric> RocksStore::MemoryMetrics() const {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return {};
  BackendMetric memory{
      "delayq_rocksdb_memory_bytes",
      "Memory the embedded store's RocksDB holds, by kind: memtables, table readers (index and "
      "filter blocks held outside the block cache), the block cache's usage (memtables are "
      "charged to it too) and what is pinned in it",
      false,
      {}};
  auto sample = [&](std::string_view kind, uint64_t value) {
    memory.samples.emplace_back("kind=\"" + std::string(kind) + "\"", static_cast<double>(value));
  };
  uint64_t value = 0;
  if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &value))
    sample("memtables", value);
  if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem, &value))
    sample("table_readers", value);
  // Every column family shares one cache: any family's figure is the cache's.
  if (db_->GetIntProperty(meta_cf_, rocksdb::DB::Properties::kBlockCacheUsage, &value))
    sample("block_cache", value);
  if (db_->GetIntProperty(meta_cf_, rocksdb::DB::Properties::kBlockCachePinnedUsage, &value))
    sample("block_cache_pinned", value);
  return {std::move(memory)};
}

}  // namespace delayq::store::rocks
