#include "store/rocksdb_store.h"
#include "store/store.h"

namespace delayq::store {

Result<std::unique_ptr<Store>> OpenStore(const StoreConfig& config) {
  if (config.backend == "rocksdb") return OpenRocksStore(config);
  if (config.backend == "redis") {
    return Fail(Errc::kInvalidArgument,
                "store: 'redis' is not implemented in this version yet; use store: rocksdb");
  }
  return Fail(Errc::kInvalidArgument,
              "store: unknown backend '" + config.backend + "' (expected rocksdb or redis)");
}

}  // namespace delayq::store
