#include "store/redis_client.h"

#include <gtest/gtest.h>

#include "store/store.h"
#include "support/redis_server.h"
#include "support/temp_dir.h"

namespace delayq::store {
namespace {

TEST(RedisUrl, ParsesEveryPart) {
  auto full = ParseRedisUrl("redis://alice:s3cret@10.0.0.5:6380/2");
  ASSERT_TRUE(full) << full.error().message;
  EXPECT_EQ(full->user, "alice");
  EXPECT_EQ(full->password, "s3cret");
  EXPECT_EQ(full->host, "10.0.0.5");
  EXPECT_EQ(full->port, 6380);
  EXPECT_EQ(full->db, 2);
  auto password_only = ParseRedisUrl("redis://:pw@localhost");
  ASSERT_TRUE(password_only);
  EXPECT_EQ(password_only->user, "");
  EXPECT_EQ(password_only->password, "pw");
  EXPECT_EQ(password_only->port, 6379);
  EXPECT_EQ(password_only->db, 0);
  auto bare = ParseRedisUrl("redis://127.0.0.1:7000/");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->port, 7000);
}

TEST(RedisUrl, RefusalsNameTheFieldAndTheFix) {
  for (const char* bad :
       {"http://127.0.0.1:6379", "redis://", "redis://host:0", "redis://host:99999",
        "redis://host:x", "redis://host/db", "redis://host/-1"}) {
    auto parsed = ParseRedisUrl(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, Errc::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find("redis.url"), std::string::npos)
        << parsed.error().message;
  }
  auto tls = ParseRedisUrl("rediss://host:6380");
  ASSERT_FALSE(tls);
  EXPECT_NE(tls.error().message.find("TLS"), std::string::npos);
}

TEST(RedisKeySlot, MatchesRedisCluster) {
  // Values from the Redis Cluster specification and CLUSTER KEYSLOT.
  EXPECT_EQ(RedisKeySlot("123456789"), 0x31C3 % 16384);
  EXPECT_EQ(RedisKeySlot("foo"), 12182);
  EXPECT_EQ(RedisKeySlot("{user1000}.following"), RedisKeySlot("{user1000}.followers"));
  EXPECT_EQ(RedisKeySlot("{user1000}.following"), RedisKeySlot("user1000"));
  // An empty tag is no tag: the whole key is hashed.
  EXPECT_NE(RedisKeySlot("foo{}{bar}"), RedisKeySlot("bar"));
  EXPECT_EQ(RedisKeySlot("dq:{orders}:due:p"), RedisKeySlot("dq:{orders}:t:1"));
}

TEST(RedisStoreAuth, PasswordFromTheUrlIsUsedAndAWrongOneIsNamed) {
  testing::TempDir dir;
  testing::RedisServer server(dir.path(), {"--requirepass", "s3cret"});
  ASSERT_TRUE(server.Start());
  StoreConfig config;
  config.backend = "redis";
  config.redis_url = "redis://:s3cret@127.0.0.1:" + std::to_string(server.port()) + "/3";
  auto store = OpenStore(config);
  ASSERT_TRUE(store) << store.error().message;
  Task task;
  task.id = 42;
  task.topic = "t";
  task.due_at_ms = 1;
  ASSERT_TRUE((*store)->Add(std::span<const Task>(&task, 1)));
  EXPECT_EQ((*store)->Get(42)->topic, "t");
  // Database 3 holds it, database 0 does not.
  EXPECT_NE(server.Cli("-a s3cret -n 3 HEXISTS dq:ix:0 42").find("1"), std::string::npos);
  EXPECT_NE(server.Cli("-a s3cret -n 0 HEXISTS dq:ix:0 42").find("0"), std::string::npos);

  config.redis_url = "redis://:wrong@127.0.0.1:" + std::to_string(server.port()) + "/0";
  auto refused = OpenStore(config);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("password"), std::string::npos) << refused.error().message;
}

// The key layout is kept in Redis: a fresh database is marked, data from a build before the
// marker (a topic set without it) or in another layout is refused with what to do.
TEST(RedisStoreLayout, AFreshDatabaseIsMarkedAndOtherLayoutsAreRefused) {
  testing::TempDir dir;
  testing::RedisServer server(dir.path());
  ASSERT_TRUE(server.Start());
  StoreConfig config;
  config.backend = "redis";
  config.redis_url = "redis://127.0.0.1:" + std::to_string(server.port()) + "/0";
  {
    auto fresh = OpenStore(config);
    ASSERT_TRUE(fresh) << fresh.error().message;
  }
  EXPECT_NE(server.Cli("GET dq:{dq}:layout").find('2'), std::string::npos);
  auto again = OpenStore(config);
  ASSERT_TRUE(again) << again.error().message;
  again->reset();

  server.Cli("SET dq:{dq}:layout 3");
  auto newer = OpenStore(config);
  ASSERT_FALSE(newer);
  EXPECT_NE(newer.error().message.find("layout '3'"), std::string::npos) << newer.error().message;
  EXPECT_NE(newer.error().message.find("FLUSHDB"), std::string::npos) << newer.error().message;

  server.Cli("DEL dq:{dq}:layout");
  server.Cli("SADD dq:{dq}:topics orders");
  auto older = OpenStore(config);
  ASSERT_FALSE(older);
  EXPECT_NE(older.error().message.find("before 2026-11-26"), std::string::npos)
      << older.error().message;
}

}  // namespace
}  // namespace delayq::store
