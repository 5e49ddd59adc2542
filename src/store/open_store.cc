#include "store/redis_store.h"
#include "store/rocksdb_store.h"
#include "store/store.h"

namespace delayq::store {

std::vector<Result<TaskId>> Store::AddEach(std::span<const Task> tasks) {
  auto stored = Add(tasks);
  std::vector<Result<TaskId>> out;
  out.reserve(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    out.push_back(stored ? Result<TaskId>((*stored)[i]) : std::unexpected(stored.error()));
  }
  return out;
}

Result<std::unique_ptr<Store>> OpenStore(const StoreConfig& config) {
  if (config.backend == "rocksdb") return OpenRocksStore(config);
  if (config.backend == "redis") return OpenRedisStore(config);
  return Fail(Errc::kInvalidArgument,
              "store: unknown backend '" + config.backend + "' (expected rocksdb or redis)");
}

// --- Schedules: a backend that keeps none -----------------------------------------------------

namespace {
std::unexpected<Error> NoSchedules() {
  return Fail(Errc::kUnavailable, "this store keeps no schedules");
}
}  // namespace

Result<std::optional<ScheduleRecord>> Store::GetSchedule(std::string_view) { return NoSchedules(); }
Result<uint64_t> Store::PutSchedule(const ScheduleRecord&, uint64_t) { return NoSchedules(); }
Result<bool> Store::DeleteSchedule(std::string_view) { return NoSchedules(); }
Result<std::vector<ScheduleRecord>> Store::ListSchedules(std::string_view, std::string_view,
                                                         size_t) {
  return NoSchedules();
}
Result<std::vector<ScheduleRecord>> Store::DueSchedules(int64_t, size_t) { return NoSchedules(); }
Result<int64_t> Store::NextScheduleMs() { return NoSchedules(); }

// --- Listing and horizon: a backend without them ---------------------------------------------

Result<ScheduledPage> Store::ListScheduled(const ScheduledQuery&) {
  return Fail(Errc::kUnavailable, "this store cannot list scheduled tasks");
}
Result<HorizonCounts> Store::Horizon(std::string_view, int64_t, int64_t, size_t) {
  return Fail(Errc::kUnavailable, "this store keeps no due horizon");
}

// --- Dead tasks in bulk: a backend without its own ------------------------------------------

Result<DeadBulkResult> Store::RedriveDead(std::string_view, size_t, int64_t) {
  return Fail(Errc::kUnavailable, "this store cannot redrive dead tasks in bulk");
}
Result<DeadBulkResult> Store::DeleteDead(std::string_view, size_t, int64_t) {
  return Fail(Errc::kUnavailable, "this store cannot delete dead tasks in bulk");
}

}  // namespace delayq::store
