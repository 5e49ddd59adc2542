#include "store/rocksdb_options.h"

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_buffer_manager.h>

#include "store/rocksdb_fault_fs.h"
#include "store/rocksdb_keys.h"
#include "store/rocksdb_logger.h"

namespace delayq::store::rocks {
namespace {

// Memory bounds (the target: RSS <= 300 MB with a backlog of 10M tasks; BENCHMARKS.md). All
// memtables together are capped by one WriteBufferManager, charged to the one block cache that
// every column family shares, so memtables plus cached blocks stay within kCacheBytes however many
// tasks are stored. Before, each family had its own 64 MB write buffers (two each) and its own 8 MB
// default cache: 545 MiB RSS while loading 10M tasks.
constexpr size_t kMemtableBytes = 128 << 20;
constexpr size_t kCacheBytes = 192 << 20;
// Per family: a flush writes one buffer; small families flush small files.
constexpr size_t kSmallWriteBuffer = 16 << 20;

rocksdb::ColumnFamilyOptions FamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache,
                                           size_t write_buffer_bytes, bool bloom) {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Index and filter blocks live in the block cache, partitioned, so that memory stays within
  // the cache however large the backlog grows. Held outside it (RocksDB's default), every table
  // file's whole index and filter stayed in memory: ~2.4 MB per million tasks stored
  // (BENCHMARKS.md, "Backlog slope"). Only the small top-level partitions are pinned; the rest
  // are read in and evicted like data blocks. Not level 0's blocks: ids and due times grow, so
  // most files reach the lower levels by trivial moves, keeping the table reader (and what it
  // pinned) opened at level 0 — pinned memory then grew ~1.8 MB per million tasks again.
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = false;
  table.pin_top_level_index_and_filter = true;
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.metadata_block_size = 4096;
  if (bloom) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));  // point lookups
    table.partition_filters = true;
  }
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.write_buffer_size = write_buffer_bytes;
  // Keys are mostly written in increasing order (ids and times grow): start each memtable
  // insert from where the previous one went instead of from the top of the skip list.
  // One hint per family (an empty prefix); the store worker is the only writer, so the
  // hint is used (RocksDB ignores it for concurrent memtable writes).
  options.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(0));
  return options;
}

// Nearly every read of a task record is of a task that exists (an ack, a claim, a GET): a
// filter on the last level, which holds most of the records, would only say "maybe". Without
// it the filters are ~10 % of what they were.
rocksdb::ColumnFamilyOptions TaskFamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions options = FamilyOptions(cache, 64 << 20, true);
  options.optimize_filters_for_hits = true;
  return options;
}

// The counters are a few keys per topic, but every batch that changes a topic's tasks adds
// one merge per (topic, state): with 100,000 topics that is ~500,000 small entries held in
// the memtable until it flushes. A 4 MiB buffer flushes them early (they merge on disk),
// so they do not show up as memory per topic.
constexpr size_t kCounterWriteBuffer = 4 << 20;

rocksdb::ColumnFamilyOptions MetaFamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions options = FamilyOptions(cache, kCounterWriteBuffer, false);
  options.merge_operator = std::make_shared<Int64AddOperator>();
  return options;
}

rocksdb::ColumnFamilyOptions IndexFamilyOptions(const std::shared_ptr<rocksdb::Cache>& cache,
                                                size_t write_buffer_bytes) {
  rocksdb::ColumnFamilyOptions options = FamilyOptions(cache, write_buffer_bytes, false);
  // The due, lease and finished indexes are queues: keys are inserted, read once, deleted.
  // Compact files that fill with tombstones so that range scans do not wade through them.
  options.table_properties_collector_factories.emplace_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(/*sliding_window_size=*/16384,
                                                    /*deletion_trigger=*/8192));
  return options;
}

}  // namespace

bool IsNoSpace(const rocksdb::Status& s) {
  return s.IsNoSpace() || s.ToString().find("No space left") != std::string::npos;
}

OpenPlan MakeOpenPlan(const StoreConfig& config) {
  OpenPlan plan;
  rocksdb::DBOptions& options = plan.options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.max_background_jobs = 2;
  options.keep_log_file_num = 4;
  options.max_total_wal_size = 256 << 20;
  options.info_log = NewInfoLogger();  // not DATA_DIR/LOG: see rocksdb_logger.h
  // No fallocate: RocksDB preallocates each new log for a full write buffer (~70 MiB here),
  // which ext4 keeps even when the call fails for lack of space, so the free space the
  // disk reserve is measured against (statvfs) would drop by that much at every log switch
  // and a small volume would refuse adds from the start.
  options.allow_fallocate = false;
  plan.listener = std::make_shared<ErrorListener>();
  options.listeners.push_back(plan.listener);
  if (config.file_faults) {
    plan.env = rocksdb::NewCompositeEnv(NewFaultInjectingFileSystem(config.file_faults));
    options.env = plan.env.get();
  }
  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(kCacheBytes);
  options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(kMemtableBytes, cache);

  // The order is the handle order the store relies on.
  plan.families = {
      {rocksdb::kDefaultColumnFamilyName, MetaFamilyOptions(cache)},
      {kTasksCf, TaskFamilyOptions(cache)},
      {kDueCf, IndexFamilyOptions(cache, 32 << 20)},
      {kLeasesCf, IndexFamilyOptions(cache, kSmallWriteBuffer)},
      {kFinishedCf, IndexFamilyOptions(cache, kSmallWriteBuffer)},
      {kDeadCf, FamilyOptions(cache, kSmallWriteBuffer, false)},
      {kDedupCf, FamilyOptions(cache, kSmallWriteBuffer, true)},
  };
  return plan;
}

}  // namespace delayq::store::rocks
