#include "api/metrics_text.h"

#include <fmt/format.h>

namespace delayq::api {

namespace {

void Counter(std::string* out, std::string_view name, std::string_view help, uint64_t value) {
  *out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, value);
}

void Gauge(std::string* out, std::string_view name, std::string_view help, uint64_t value) {
  *out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, value);
}

}  // namespace

std::string RenderMetrics(const engine::Engine& engine) {
  const engine::Metrics& m = engine.metrics();
  store::StoreStats stats = engine.StoreStats();
  std::string out;
  out.reserve(4096);
  Counter(&out, "delayq_tasks_added_total", "Tasks durably added.",
          m.tasks_added.load(std::memory_order_relaxed));
  Counter(&out, "delayq_add_commits_total",
          "Group commits of added tasks (one store write, one fsync in fsync mode, each).",
          m.add_commits.load(std::memory_order_relaxed));
  Counter(&out, "delayq_store_synced_writes_total", "Store writes that were fsynced.",
          stats.synced_batches);
  Counter(&out, "delayq_tasks_delivered_total", "Tasks handed to a consumer.",
          m.tasks_delivered.load(std::memory_order_relaxed));
  Counter(&out, "delayq_tasks_purged_total", "Finished tasks deleted after retention.",
          stats.tasks_purged);
  Counter(&out, "delayq_rejected_overload_total",
          "Requests refused because the store queue was full.",
          m.rejected_overload.load(std::memory_order_relaxed));
  Counter(&out, "delayq_store_errors_total", "Store operations that failed.",
          m.store_errors.load(std::memory_order_relaxed));
  Counter(&out, "delayq_callbacks_ok_total", "Callbacks answered with a 2xx status.",
          m.callbacks_ok.load(std::memory_order_relaxed));
  Counter(&out, "delayq_callbacks_failed_total",
          "Callbacks that failed (other status, timeout, connection error); retried or dead.",
          m.callbacks_failed.load(std::memory_order_relaxed));
  Counter(&out, "delayq_callbacks_dead_total", "Callback tasks that used up max_attempts.",
          m.callbacks_dead.load(std::memory_order_relaxed));
  Counter(&out, "delayq_tasks_promoted_total", "Tasks whose due time came (moved to ready).",
          m.tasks_promoted.load(std::memory_order_relaxed));
  Gauge(&out, "delayq_window_scheduled_tasks", "Tasks in the in-memory near window, not yet due.",
        stats.window_scheduled);
  Gauge(&out, "delayq_window_ready_tasks", "Due tasks in memory waiting for a consumer.",
        stats.window_ready);
  out +=
      "# HELP delayq_delivery_lateness_seconds Time from due to delivery.\n"
      "# TYPE delayq_delivery_lateness_seconds histogram\n";
  m.delivery_lateness.Render("delayq_delivery_lateness_seconds", "", &out);
  out +=
      "# HELP delayq_callback_seconds Time from sending a callback to its outcome.\n"
      "# TYPE delayq_callback_seconds histogram\n";
  m.callback_latency.Render("delayq_callback_seconds", "", &out);
  out +=
      "# HELP delayq_commit_seconds Duration of one group commit's store write.\n"
      "# TYPE delayq_commit_seconds histogram\n";
  m.commit_latency.Render("delayq_commit_seconds", "", &out);
  return out;
}

}  // namespace delayq::api
