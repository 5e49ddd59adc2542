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

}  // namespace delayq::store
