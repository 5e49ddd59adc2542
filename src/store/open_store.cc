#include "store/redis_store.h"
#include "store/rocksdb_store.h"
#include "store/store.h"

namespace delayq::store {

Result<std::unique_ptr<Store>> OpenStore(const StoreConfig& config) {
  if (config.backend == "rocksdb") return OpenRocksStore(config);
  if (config.backend == "redis") return OpenRedisStore(config);
  return Fail(Errc::kInvalidArgument,
              "store: unknown backend '" + config.backend + "' (expected rocksdb or redis)");
}

}  // namespace delayq::store
