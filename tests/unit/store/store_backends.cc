#include "unit/store/store_backends.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"
#include "support/test_util.h"

namespace delayq::store {

void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) { return info.param.name; }

namespace {

// One redis-server (AOF on) for the whole suite, emptied before each test.
testing::RedisServer& SharedRedis() {
  static testing::TempDir dir;
  static testing::RedisServer server(dir.path());
  if (!server.running()) server.Start();
  return server;
}

Result<std::unique_ptr<Store>> OpenRedis(const std::string&, StoreConfig config) {
  config.backend = "redis";
  config.redis_url = SharedRedis().url();
  return OpenStore(config);
}

void ResetRedis() { SharedRedis().Cli("FLUSHALL"); }

}  // namespace

// A 3-master Redis Cluster for the whole suite: the cluster code paths (slot routing, the
// hint protocol across nodes) answer to the same contract.
testing::RedisCluster& SharedCluster() {
  static testing::TempDir dir;
  static testing::RedisCluster cluster(dir.path());
  static bool started = cluster.Start();
  EXPECT_TRUE(started) << cluster.last_error();
  return cluster;
}

Result<std::unique_ptr<Store>> OpenRedisCluster(const std::string&, StoreConfig config) {
  config.backend = "redis";
  config.redis_url = SharedCluster().url();
  return OpenStore(config);
}

void ResetRedisCluster() {
  for (int port : SharedCluster().ports()) {
    testing::RunCommand("redis-cli -p " + std::to_string(port) + " FLUSHALL");
  }
}

Backend RocksdbBackend() {
  return Backend{"rocksdb", [](const std::string& dir, StoreConfig config) {
                   config.backend = "rocksdb";
                   config.data_dir = dir + "/data";
                   return OpenStore(config);
                 }};
}
Backend RedisBackend() { return Backend{"redis", OpenRedis, ResetRedis, false}; }
Backend RedisClusterBackend() {
  return Backend{"redis_cluster", OpenRedisCluster, ResetRedisCluster, false};
}

}  // namespace delayq::store
