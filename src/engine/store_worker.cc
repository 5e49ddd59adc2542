#include "engine/store_worker.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <optional>

namespace delayq::engine {

StoreWorker::StoreWorker(store::Store& store, const Clock& clock, Metrics& metrics,
                         size_t max_queued)
    : store_(store), clock_(clock), metrics_(metrics), max_queued_(max_queued) {}

StoreWorker::~StoreWorker() { Stop(); }

void StoreWorker::Start() {
  std::lock_guard lock(thread_.mutex());
  if (started_) return;
  started_ = true;
  thread_.Start([this] { Run(); });
}

// Submitters signal the condition variable before they release the mutex, so that a
// submitter has stopped touching the worker by the time its work can have run. Signalled
// after the unlock, a settlement from the delivery thread could be done (its callback slot
// released, WaitForCallbacks satisfied, the engine stopped and this worker destroyed) while
// the delivery thread was still to call notify_one on a destroyed condition variable.
void StoreWorker::Stop() { thread_.Stop(); }

bool StoreWorker::SubmitAdd(std::vector<Task>&& tasks, AddDone&& done) {
  {
    std::lock_guard lock(thread_.mutex());
    if (thread_.stopping() || queued_ + tasks.size() > max_queued_) return false;
    queued_ += tasks.size();
    adds_.push_back(AddRequest{std::move(tasks), std::move(done)});
    thread_.condition().notify_one();  // under the lock: see Stop
  }
  return true;
}

bool StoreWorker::Submit(Job&& job) {
  {
    std::lock_guard lock(thread_.mutex());
    if (thread_.stopping() || queued_ + 1 > max_queued_) return false;
    ++queued_;
    jobs_.push_back(std::move(job));
    thread_.condition().notify_one();
  }
  return true;
}

bool StoreWorker::SubmitSettle(store::Settlement&& settlement, SettleDone&& done) {
  {
    std::lock_guard lock(thread_.mutex());
    if (thread_.stopping() || queued_ + 1 > max_queued_) return false;
    ++queued_;
    settles_.push_back(std::move(settlement));
    settle_done_.push_back(std::move(done));
    thread_.condition().notify_one();
  }
  return true;
}

bool StoreWorker::SubmitSettles(std::vector<store::Settlement>&& settlements,
                                std::vector<SettleDone>&& done) {
  {
    std::lock_guard lock(thread_.mutex());
    if (thread_.stopping() || queued_ + settlements.size() > max_queued_) return false;
    queued_ += settlements.size();
    std::move(settlements.begin(), settlements.end(), std::back_inserter(settles_));
    std::move(done.begin(), done.end(), std::back_inserter(settle_done_));
    thread_.condition().notify_one();
  }
  return true;
}

void StoreWorker::Run() {
  std::vector<AddRequest> adds;
  std::vector<Job> jobs;
  std::vector<store::Settlement> settles;
  std::vector<SettleDone> settle_done;
  for (;;) {
    {
      std::unique_lock lock(thread_.mutex());
      thread_.Wait(lock, [&] { return !adds_.empty() || !jobs_.empty() || !settles_.empty(); });
      if (adds_.empty() && jobs_.empty() && settles_.empty()) return;  // stopping, all done
      adds.swap(adds_);
      jobs.swap(jobs_);
      settles.swap(settles_);
      settle_done.swap(settle_done_);
    }
    size_t round = jobs.size() + settles.size();
    for (const AddRequest& add : adds) round += add.tasks.size();
    if (!adds.empty()) CommitAdds(adds);
    if (!settles.empty()) CommitSettles(settles, settle_done);
    for (Job& job : jobs) {
      auto started = std::chrono::steady_clock::now();
      job();
      metrics_.store_job_latency.ObserveMicros(
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                started)
              .count());
    }
    adds.clear();
    jobs.clear();
    settles.clear();
    settle_done.clear();
    {
      // Counted until done, so that queued plus in-progress work stays within max_queued.
      std::lock_guard lock(thread_.mutex());
      queued_ -= round;
    }
  }
}

void StoreWorker::CommitSettles(std::vector<store::Settlement>& settles,
                                std::vector<SettleDone>& done) {
  std::vector<Result<Task>> results = store_.Settle(settles, clock_.NowMs());
  for (size_t i = 0; i < done.size(); ++i) {
    if (!results[i] && results[i].error().code == Errc::kUnavailable) {
      metrics_.store_errors.fetch_add(1, std::memory_order_relaxed);
    }
    done[i](std::move(results[i]));
  }
}

void StoreWorker::CommitAdds(std::vector<AddRequest>& adds) {
  std::vector<Task> batch;
  if (adds.size() == 1) {
    batch.swap(adds[0].tasks);
  } else {
    size_t total = 0;
    for (const AddRequest& add : adds) total += add.tasks.size();
    batch.reserve(total);
    for (AddRequest& add : adds) {
      for (Task& task : add.tasks) batch.push_back(std::move(task));
    }
  }
  auto started = std::chrono::steady_clock::now();
  std::vector<Result<TaskId>> stored = store_.AddEach(batch);
  auto elapsed = std::chrono::steady_clock::now() - started;
  metrics_.commit_latency.ObserveMicros(
      std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  size_t created = 0;
  bool failed = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!stored[i]) {
      failed = true;
      continue;
    }
    if (*stored[i] != batch[i].id) continue;  // a dedup hit: nothing new was stored
    ++created;
    metrics_.topics.Count(batch[i].topic, TopicEvent::kAdded);
  }
  if (failed) metrics_.store_errors.fetch_add(1, std::memory_order_relaxed);
  if (created > 0 || !failed) metrics_.add_commits.fetch_add(1, std::memory_order_relaxed);
  metrics_.tasks_added.fetch_add(created, std::memory_order_relaxed);
  // Each request gets its own tasks' outcome: stored, or the error of the first task that
  // was not (an outcome-unknown task makes the whole request's outcome unknown).
  size_t offset = 0;
  for (AddRequest& add : adds) {
    size_t count = adds.size() == 1 ? batch.size() : add.tasks.size();
    std::vector<TaskId> ids;
    ids.reserve(count);
    std::optional<Error> error;
    for (size_t i = offset; i < offset + count; ++i) {
      if (stored[i]) {
        ids.push_back(*stored[i]);
      } else if (!error || stored[i].error().code == Errc::kOutcomeUnknown) {
        error = stored[i].error();
      }
    }
    offset += count;
    if (error) {
      add.done(std::unexpected(std::move(*error)));
    } else {
      add.done(std::move(ids));
    }
  }
}

}  // namespace delayq::engine
