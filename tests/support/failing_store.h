#pragma once

#include <atomic>
#include <memory>

#include "store/store.h"

namespace delayq::testing {

// A Store that forwards to a real one, except that while `failing` is set every
// state-changing call fails as a full disk would (kUnavailable) without touching the real
// store. The fault seam for "storage unavailable → 503, never a false acknowledgement".
class FailingStore final : public store::Store {
 public:
  explicit FailingStore(std::unique_ptr<store::Store> real) : real_(std::move(real)) {}

  std::atomic<bool> failing{false};

  Result<std::vector<TaskId>> Add(std::span<const Task> tasks) override {
    if (failing) return Down();
    return real_->Add(tasks);
  }
  Result<Task> Get(TaskId id) override { return real_->Get(id); }
  Result<store::PromoteResult> Promote(int64_t now_ms) override { return real_->Promote(now_ms); }
  bool HasDue(std::string_view topic, DeliveryKind kind, int64_t now_ms) override {
    return real_->HasDue(topic, kind, now_ms);
  }
  Result<std::vector<Task>> ConsumeDue(std::string_view topic, size_t max,
                                       int64_t now_ms) override {
    if (failing) return Down();
    return real_->ConsumeDue(topic, max, now_ms);
  }
  Result<Task> ConsumeById(std::string_view topic, TaskId id, int64_t now_ms) override {
    if (failing) return Down();
    return real_->ConsumeById(topic, id, now_ms);
  }
  Result<std::vector<Task>> ClaimDue(std::string_view topic, DeliveryKind kind, size_t max,
                                     int64_t now_ms, int64_t lease_until_ms) override {
    if (failing) return Down();
    return real_->ClaimDue(topic, kind, max, now_ms, lease_until_ms);
  }
  Result<Task> Ack(TaskId id, uint64_t token, int64_t now_ms) override {
    if (failing) return Down();
    return real_->Ack(id, token, now_ms);
  }
  Result<Task> Nack(TaskId id, uint64_t token, int64_t retry_at_ms, std::string_view reason,
                    int64_t now_ms) override {
    if (failing) return Down();
    return real_->Nack(id, token, retry_at_ms, reason, now_ms);
  }
  Result<Task> ExtendLease(TaskId id, uint64_t token, int64_t lease_until_ms,
                           int64_t now_ms) override {
    if (failing) return Down();
    return real_->ExtendLease(id, token, lease_until_ms, now_ms);
  }
  Result<size_t> ExpireLeases(int64_t now_ms, size_t limit) override {
    if (failing) return Down();
    return real_->ExpireLeases(now_ms, limit);
  }
  Result<Task> Cancel(TaskId id, int64_t now_ms) override {
    if (failing) return Down();
    return real_->Cancel(id, now_ms);
  }
  Result<Task> Reschedule(TaskId id, int64_t due_at_ms, int64_t now_ms) override {
    if (failing) return Down();
    return real_->Reschedule(id, due_at_ms, now_ms);
  }
  Result<Task> Redrive(TaskId id, int64_t now_ms) override {
    if (failing) return Down();
    return real_->Redrive(id, now_ms);
  }
  Result<store::DeadBulkResult> RedriveDead(std::string_view topic, size_t limit,
                                            int64_t now_ms) override {
    if (failing) return Down();
    return real_->RedriveDead(topic, limit, now_ms);
  }
  Result<store::DeadBulkResult> DeleteDead(std::string_view topic, size_t limit,
                                           int64_t now_ms) override {
    if (failing) return Down();
    return real_->DeleteDead(topic, limit, now_ms);
  }
  Result<std::vector<Task>> ListDead(std::string_view topic, TaskId after_id,
                                     size_t limit) override {
    return real_->ListDead(topic, after_id, limit);
  }
  Result<std::vector<store::TopicStats>> Topics(std::string_view topic, int64_t now_ms) override {
    return real_->Topics(topic, now_ms);
  }
  Result<std::optional<store::ScheduleRecord>> GetSchedule(std::string_view name) override {
    return real_->GetSchedule(name);
  }
  Result<uint64_t> PutSchedule(const store::ScheduleRecord& record, uint64_t expected) override {
    if (failing) return Down();
    return real_->PutSchedule(record, expected);
  }
  Result<bool> DeleteSchedule(std::string_view name) override {
    if (failing) return Down();
    return real_->DeleteSchedule(name);
  }
  Result<std::vector<store::ScheduleRecord>> ListSchedules(std::string_view topic,
                                                           std::string_view after,
                                                           size_t limit) override {
    return real_->ListSchedules(topic, after, limit);
  }
  Result<std::vector<store::ScheduleRecord>> DueSchedules(int64_t now_ms, size_t limit) override {
    return real_->DueSchedules(now_ms, limit);
  }
  Result<int64_t> NextScheduleMs() override { return real_->NextScheduleMs(); }
  Result<size_t> PurgeFinished(int64_t before_ms, size_t limit) override {
    if (failing) return Down();
    return real_->PurgeFinished(before_ms, limit);
  }
  Result<TaskId> MaxTaskId() override { return real_->MaxTaskId(); }
  Result<void> Sync() override { return real_->Sync(); }
  bool Healthy() override { return !failing && real_->Healthy(); }
  store::StoreStats Stats() const override { return real_->Stats(); }
  Result<void> SetPaused(std::string_view topic, bool paused, int64_t now_ms) override {
    if (failing) return Down();
    return real_->SetPaused(topic, paused, now_ms);
  }

 private:
  static std::unexpected<Error> Down() {
    return Fail(Errc::kUnavailable, "storage write failed: IO error: No space left on device");
  }
  std::unique_ptr<store::Store> real_;
};

}  // namespace delayq::testing
