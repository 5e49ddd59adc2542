// Reading the due index by range: a topic's scheduled tasks page by page, and the due horizon.
// The index (`due` CF) is global, ordered by (due_at_ms, id), with the topic in the value, so
// that an add or a promote writes one entry whatever the topic; a topic's page therefore
// reads the entries of every topic in its range, up to a scan budget, and answers where to
// go on (docs/ARCHITECTURE.md, "Listing and the due horizon").

#include <algorithm>
#include <cmath>

#include "store/rocksdb_store_impl.h"

namespace delayq::store::rocks {

namespace {

// A horizon bucket is counted in this many parts, each one by one up to kExactPerPart
// entries (2,000 per bucket); a part with more is estimated.
constexpr int64_t kHorizonParts = 10;
constexpr size_t kExactPerPart = 200;

// The first position strictly after `key`.
DueKey After(const DueKey& key) {
  if (key.id == std::numeric_limits<TaskId>::max()) return DueKey{key.due_at_ms + 1, 0};
  return DueKey{key.due_at_ms, key.id + 1};
}

std::string_view TopicOfEntry(const rocksdb::Slice& value) {
  if (value.size() < 1) return {};
  return std::string_view(value.data() + 1, value.size() - 1);
}

}  // namespace

Result<ScheduledPage> RocksStore::ListScheduled(const ScheduledQuery& query) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  ScheduledPage page;
  DueKey start{std::max<int64_t>(query.from_ms, 0), 0};
  if (query.after) start = std::max(start, After(*query.after));
  if (start.due_at_ms >= query.to_ms || query.limit == 0) return page;

  std::string lower = TimeIdKey(start.due_at_ms, start.id);
  std::string upper = TimeIdKey(query.to_ms, 0);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, due_cf_));
  DueKey last{};
  for (it->Seek(lower); it->Valid(); it->Next()) {
    if (page.tasks.size() >= query.limit || page.scanned >= query.scan_budget) {
      page.next = last;  // more entries follow: the next page starts after the last one read
      break;
    }
    last = DecodeTimeIdKey(it->key());
    ++page.scanned;
    if (TopicOfEntry(it->value()) != query.topic) continue;
    auto task = Read(last.id);
    if (!task) {
      if (task.error().code == Errc::kNotFound) continue;  // purged since
      return std::unexpected(task.error());
    }
    // The record is the authority: an entry of a task taken or moved since is skipped.
    if (task->state != TaskState::kScheduled || task->topic != query.topic ||
        std::max<int64_t>(task->due_at_ms, 0) != last.due_at_ms) {
      continue;
    }
    page.tasks.push_back(std::move(*task));
  }
  if (!it->status().ok()) return ReadFailed(it->status());
  return page;
}

// Counts the due entries of `topic` (every topic when empty) in [from_ms, to_ms), a tenth of
// the interval at a time: each part is counted one by one up to kExactPerPart entries; a part
// with more is extrapolated from the span of due times the entries read cover (they are
// taken as a sample of its density), and a topic's count from its share of the entries read.
// Caller holds db_mu_.
Result<HorizonBucket> RocksStore::CountDue(std::string_view topic, int64_t from_ms, int64_t to_ms) {
  HorizonBucket bucket{from_ms, 0, true};
  if (to_ms <= from_ms) return bucket;
  int64_t width = to_ms - from_ms;
  int64_t parts = std::min<int64_t>(kHorizonParts, width);
  double total = 0;
  for (int64_t p = 0; p < parts; ++p) {
    int64_t lo = from_ms + width * p / parts;
    int64_t hi = from_ms + width * (p + 1) / parts;
    std::string lower = TimeIdKey(lo, 0);
    std::string upper = TimeIdKey(hi, 0);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions read_options;
    read_options.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, due_cf_));
    size_t read = 0;
    int64_t matches = 0;
    int64_t last_due = lo;
    for (it->Seek(lower); it->Valid() && read < kExactPerPart; it->Next()) {
      ++read;
      last_due = DecodeTimeIdKey(it->key()).due_at_ms;
      if (topic.empty() || TopicOfEntry(it->value()) == topic) ++matches;
    }
    if (!it->status().ok()) return ReadFailed(it->status());
    if (!it->Valid()) {  // the part was read to its end
      total += static_cast<double>(matches);
      continue;
    }
    bucket.exact = false;
    // The entries read cover [lo, last_due]; the rest of the part is taken to be as dense.
    double covered = static_cast<double>(last_due - lo + 1);
    double share = static_cast<double>(matches) / static_cast<double>(read);
    total += static_cast<double>(matches) +
             share * static_cast<double>(read) * static_cast<double>(hi - last_due - 1) / covered;
  }
  bucket.count = std::llround(total);
  return bucket;
}

Result<HorizonCounts> RocksStore::Horizon(std::string_view topic, int64_t start_ms,
                                          int64_t bucket_ms, size_t buckets) {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Closed();
  HorizonCounts counts;
  // Overdue entries lie between the earliest one and start_ms: counted over that span.
  int64_t earliest = start_ms;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), due_cf_));
    it->SeekToFirst();
    if (!it->status().ok()) return ReadFailed(it->status());
    if (it->Valid()) earliest = std::min(earliest, DecodeTimeIdKey(it->key()).due_at_ms);
  }
  auto overdue = CountDue(topic, earliest, start_ms);
  if (!overdue) return std::unexpected(overdue.error());
  counts.overdue = *overdue;
  counts.overdue.start_ms = earliest;
  counts.buckets.reserve(buckets);
  for (size_t i = 0; i < buckets; ++i) {
    int64_t from = start_ms + static_cast<int64_t>(i) * bucket_ms;
    auto bucket = CountDue(topic, from, from + bucket_ms);
    if (!bucket) return std::unexpected(bucket.error());
    counts.buckets.push_back(*bucket);
  }
  return counts;
}

}  // namespace delayq::store::rocks
