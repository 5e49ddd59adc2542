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
#include "support/temp_dir.h"

namespace delayq::store {

struct Backend {
  std::string name;
  // Opens (or reopens) the store kept under `dir` with `config` (data_dir is set here).
  std::function<Result<std::unique_ptr<Store>>(const std::string& dir, StoreConfig config)> open;
  // Empties the backend before a test (a shared server outlives one test).
  std::function<void()> reset = [] {};
  bool near_window = true;  // holds due tasks in memory (window_* stats mean something)
};

// A test run on each backend (the parameter): a store emptied and opened in a temporary
// directory before each case; Reopen() opens it again on the same data, with config_.
class BackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    GetParam().reset();
    Reopen();
  }

  void Reopen() {
    store_.reset();
    auto opened = GetParam().open(dir_.path(), config_);
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
  }

  testing::TempDir dir_;
  StoreConfig config_;
  std::unique_ptr<Store> store_;
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
