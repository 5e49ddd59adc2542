#pragma once

#include <memory>

#include "store/store.h"

namespace delayq::store {

// The distributed backend: any number of delayq instances share one Redis server or Redis
// Cluster. Every queue operation is one Lua script on the topic's keys, so two instances
// never claim the same task; what is due is found through a "next due per topic" index
// (docs/ARCHITECTURE.md, "Redis layout"). Durability is Redis's own (appendonly).
Result<std::unique_ptr<Store>> OpenRedisStore(const StoreConfig& config);

}  // namespace delayq::store
