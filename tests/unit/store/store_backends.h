#pragma once

// The backends the store suites run against: RocksDB in a temporary directory, one shared
// redis-server, one shared 3-master Redis Cluster.

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "store/store.h"
#include "support/redis_server.h"

namespace delayq::store {

struct Backend {
  std::string name;
  // Opens (or reopens) the store kept under `dir` with `config` (data_dir is set here).
  std::function<Result<std::unique_ptr<Store>>(const std::string& dir, StoreConfig config)> open;
  // Empties the backend before a test (a shared server outlives one test).
  std::function<void()> reset = [] {};
  bool near_window = true;  // holds due tasks in memory (window_* stats mean something)
};

void PrintTo(const Backend& backend, std::ostream* os);
std::string BackendName(const ::testing::TestParamInfo<Backend>& info);

Backend RocksdbBackend();
Backend RedisBackend();
Backend RedisClusterBackend();

testing::RedisCluster& SharedCluster();
Result<std::unique_ptr<Store>> OpenRedisCluster(const std::string& dir, StoreConfig config);
void ResetRedisCluster();

}  // namespace delayq::store
