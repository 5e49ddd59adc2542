#pragma once

// The Redis store's class, shared by its files: redis_store.cc (opening, the layout check,
// adds, reads, purges, stats), redis_due.cc (promoting, taking due tasks), redis_transitions.cc
// (per-task scripts: leases, cancel, reschedule, redrive), redis_dead.cc (dead tasks in bulk),
// redis_hints.cc (the next-due index beside single-server and cluster writes),
// redis_listing.cc (listing, the due horizon) and redis_node_lease.cc (the node-number lease
// and its renewer thread). For redis_*.cc only.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/stoppable_thread.h"
#include "store/redis_client.h"
#include "store/redis_keys.h"
#include "store/redis_record.h"
#include "store/redis_scripts.h"
#include "store/store.h"

namespace delayq::store::redis {

namespace scripts = redis_scripts;

class RedisStore final : public Store {
 public:
  RedisStore(StoreConfig config, std::unique_ptr<RedisClient> client)
      : config_(std::move(config)), redis_(std::move(client)), rng_(std::random_device{}()) {}

  ~RedisStore() override {
    renewer_.Stop();
    if (node_acquired_) {
      // Give the number back at once rather than after the lease runs out.
      (void)redis_->Run(
          ScriptCommand(scripts::RenewNode(), {NodeKey(node_id_)}, {node_owner_, "0"}));
    }
  }

  Result<std::vector<TaskId>> Add(std::span<const Task> tasks) override;
  std::vector<Result<TaskId>> AddEach(std::span<const Task> tasks) override;
  Result<Task> Get(TaskId id) override;
  Result<PromoteResult> Promote(int64_t now_ms) override;
  bool HasDue(std::string_view topic, DeliveryKind kind, int64_t now_ms) override;
  Result<std::vector<Task>> ConsumeDue(std::string_view topic, size_t max, int64_t now_ms) override;
  Result<Task> ConsumeById(std::string_view topic, TaskId id, int64_t now_ms) override;
  Result<std::vector<Task>> ClaimDue(std::string_view topic, DeliveryKind kind, size_t max,
                                     int64_t now_ms, int64_t lease_until_ms) override;
  Result<Task> Ack(TaskId id, uint64_t lease_token, int64_t now_ms) override;
  Result<Task> Nack(TaskId id, uint64_t lease_token, int64_t retry_at_ms, std::string_view reason,
                    int64_t now_ms) override;
  Result<Task> ExtendLease(TaskId id, uint64_t lease_token, int64_t lease_until_ms,
                           int64_t now_ms) override;
  std::vector<Result<Task>> Settle(std::span<const Settlement> settlements,
                                   int64_t now_ms) override;
  Result<size_t> ExpireLeases(int64_t, size_t) override;
  Result<Task> Cancel(TaskId id, int64_t now_ms) override;
  Result<Task> Reschedule(TaskId id, int64_t due_at_ms, int64_t now_ms) override;
  Result<Task> Redrive(TaskId id, int64_t now_ms) override;
  Result<std::vector<Task>> ListDead(std::string_view topic, TaskId after_id,
                                     size_t limit) override;
  Result<std::vector<TopicStats>> Topics(std::string_view topic, int64_t now_ms) override;
  Result<size_t> PurgeFinished(int64_t finished_before_ms, size_t limit) override;
  Result<TaskId> MaxTaskId() override;
  Result<void> Sync() override;
  bool Healthy() override;
  StoreStats Stats() const override;
  Result<uint32_t> AcquireNodeId(uint32_t configured) override;
  // Dead tasks in bulk (redis_dead.cc).
  Result<DeadBulkResult> RedriveDead(std::string_view topic, size_t limit, int64_t now_ms) override;
  Result<DeadBulkResult> DeleteDead(std::string_view topic, size_t limit, int64_t now_ms) override;
  // Paused topics (redis_pause.cc).
  Result<void> SetPaused(std::string_view topic, bool paused, int64_t now_ms) override;
  // Listing and the due horizon (redis_listing.cc).
  Result<ScheduledPage> ListScheduled(const ScheduledQuery& query) override;
  Result<HorizonCounts> Horizon(std::string_view topic, int64_t start_ms, int64_t bucket_ms,
                                size_t buckets) override;
  // Schedules (redis_schedules.cc).
  Result<std::optional<ScheduleRecord>> GetSchedule(std::string_view name) override;
  Result<uint64_t> PutSchedule(const ScheduleRecord& record, uint64_t expected_version) override;
  Result<bool> DeleteSchedule(std::string_view name) override;
  Result<std::vector<ScheduleRecord>> ListSchedules(std::string_view topic,
                                                    std::string_view after_name,
                                                    size_t limit) override;
  Result<std::vector<ScheduleRecord>> DueSchedules(int64_t now_ms, size_t limit) override;
  Result<int64_t> NextScheduleMs() override;

 private:
  Result<void> CheckLanes(const std::vector<std::pair<std::string, DeliveryKind>>& lanes,
                          int64_t now_ms, PromoteResult& result, int64_t& next);
  static std::vector<const RedisCommand*> Pointers(const std::vector<RedisCommand>& commands);
  std::vector<Result<RedisReply>> HintedWrites(const std::vector<RedisCommand>& before,
                                               const std::vector<RedisCommand>& writes,
                                               const std::vector<RedisCommand>& after,
                                               bool wait_for_replicas = false);
  static RedisCommand AddScript(std::span<const Task> tasks, std::string_view topic,
                                const std::vector<size_t>& indexes, TaskId max_id, bool single);
  std::pair<std::vector<RedisCommand>, std::vector<RedisCommand>> ClusterAddHints(
      std::span<const Task> tasks, TaskId max_id);
  std::vector<BackendMetric> ClientMetrics(const RedisClientStats& client) const;
  struct Where {
    std::string topic;
    DeliveryKind kind = DeliveryKind::kPull;
  };
  static std::string NodeKey(uint32_t node);
  std::vector<std::string> TaskScriptKeys(const std::string& topic) const;
  static std::optional<Where> ParseIndexValue(const RedisReply& reply);
  static std::vector<std::string> HintTriple(DeliveryKind kind, const std::string& topic,
                                             int64_t score);
  Result<void> ReconcileHints(const std::vector<RedisReply>& topics);
  RedisCommand HintCommand(bool bump, std::string max_id, const std::vector<std::string>& triples);
  void RememberTopic(TaskId id, DeliveryKind kind, const std::string& topic);
  Result<Where> TopicOf(TaskId id);
  Result<Task> RunTaskScript(const RedisScript& script, TaskId id, std::vector<std::string> args,
                             std::optional<int64_t> due_again_at, const Refusal& refusal);
  Result<std::vector<Task>> RunClaim(std::string_view topic, DeliveryKind kind, size_t max,
                                     int64_t now_ms, int64_t lease_until_ms);
  Result<std::vector<Task>> DecodeClaimed(std::string_view topic, DeliveryKind kind,
                                          const RedisReply& claim);
  void RenewLoop();
  Result<std::vector<std::string>> HorizonTopics(int64_t end_ms, size_t max, bool* left_out);
  const StoreConfig config_;
  std::unique_ptr<RedisClient> redis_;
  int64_t last_promote_ms_ = 0;  // scheduler thread only
  std::string purge_cursor_ = "0";
  std::mutex cache_mu_;
  std::unordered_map<TaskId, Where> topic_cache_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  StoppableThread renewer_;
  uint32_t node_id_ = 0;
  bool node_acquired_ = false;
  std::string node_owner_;
  std::atomic<bool> node_lost_{false};
  std::atomic<uint64_t> added_batches_{0};
  std::atomic<uint64_t> added_tasks_{0};
  std::atomic<uint64_t> consumed_{0};
  std::atomic<uint64_t> purged_{0};
  std::atomic<uint64_t> hint_failures_{0};
};

}  // namespace delayq::store::redis
