#include "api/metrics_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <vector>

#include "delivery/sink.h"

namespace delayq::api {

namespace {

void Counter(std::string* out, std::string_view name, std::string_view help, uint64_t value) {
  *out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, value);
}

void Gauge(std::string* out, std::string_view name, std::string_view help, uint64_t value) {
  *out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, value);
}

// Label values are topic names ([A-Za-z0-9._:-], nothing to escape) and fixed strings.
void TopicSeries(std::string* out, const engine::Metrics& m) {
  struct Row {
    std::string_view topic;
    std::array<uint64_t, engine::kTopicEventCount> counts;
  };
  std::vector<Row> rows;
  m.topics.ForEach([&](std::string_view topic, const engine::TopicMetrics::Counts& counts) {
    Row row{topic, {}};
    for (size_t i = 0; i < counts.size(); ++i) {
      row.counts[i] = counts[i].load(std::memory_order_relaxed);
    }
    rows.push_back(row);
  });
  // Sorted so that successive scrapes list topics in the same order (easier to read).
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.topic < b.topic; });
  static constexpr std::array<std::string_view, engine::kTopicEventCount> kHelp = {
      "Tasks durably added, by topic (dedup hits excluded).",
      "Tasks handed out for the first time after falling due (first pull or first callback), "
      "by topic.",
      "Tasks completed, by topic: seed pulls, v1 acks, callbacks answered 2xx.",
      "Failed delivery attempts, by topic: callbacks not answered 2xx, v1 nacks.",
      "Tasks that became dead after a failed attempt used up max_attempts, by topic.",
      "Successful cancel calls, by topic.",
  };
  for (size_t i = 0; i < engine::kTopicEventCount; ++i) {
    std::string name = fmt::format("delayq_topic_tasks_{}_total",
                                   engine::TopicEventName(static_cast<engine::TopicEvent>(i)));
    *out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n", name, kHelp[i]);
    for (const Row& row : rows) {
      *out += fmt::format("{}{{topic=\"{}\"}} {}\n", name, row.topic, row.counts[i]);
    }
  }
}

// Tasks by state summed over all topics, from the store's per-topic counts.
void StateGauges(std::string* out, engine::Engine& engine) {
  auto topics = engine.Topics("");
  if (!topics) return;  // the store cannot be read: leave the gauges out rather than lie
  std::array<int64_t, 6> by_state{};
  int64_t due = 0;
  int64_t oldest_lateness_ms = 0;
  for (const store::TopicStats& t : *topics) {
    for (size_t i = 0; i < by_state.size(); ++i) by_state[i] += t.by_state[i];
    due += static_cast<int64_t>(t.due_waiting);
    oldest_lateness_ms = std::max(oldest_lateness_ms, t.oldest_due_lateness_ms);
  }
  *out +=
      "# HELP delayq_tasks Tasks stored, by state (scheduled includes tasks already due but not "
      "yet handed out; done, dead and cancelled are kept for the retention period).\n"
      "# TYPE delayq_tasks gauge\n";
  for (size_t i = 0; i < by_state.size(); ++i) {
    *out += fmt::format("delayq_tasks{{state=\"{}\"}} {}\n", StateName(static_cast<TaskState>(i)),
                        by_state[i]);
  }
  Gauge(out, "delayq_tasks_due",
        "Tasks due and waiting in memory for a consumer or a callback slot.",
        static_cast<uint64_t>(due));
  *out += fmt::format(
      "# HELP delayq_oldest_due_lateness_seconds How long the oldest due task still waiting "
      "has been due (0 when none waits).\n"
      "# TYPE delayq_oldest_due_lateness_seconds gauge\n"
      "delayq_oldest_due_lateness_seconds {}\n",
      static_cast<double>(oldest_lateness_ms) / 1000.0);
  Gauge(out, "delayq_topics", "Topics with at least one stored task, and paused topics.",
        topics->size());
  // One series per paused topic (value 1), none for the others: bounded by what an operator
  // paused, not by the number of topics; a resumed topic's series ends.
  *out +=
      "# HELP delayq_topic_paused Topics whose deliveries are paused (1), by topic; they keep "
      "taking adds.\n"
      "# TYPE delayq_topic_paused gauge\n";
  for (const store::TopicStats& t : *topics) {
    if (t.paused) *out += fmt::format("delayq_topic_paused{{topic=\"{}\"}} 1\n", t.topic);
  }
}

// Wall clock at start-up, for restart alerts (changes() of this series).
const double kStartTimeSeconds =
    static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count()) /
    1000.0;

// The callback outcome counters.
void CallbackCounters(std::string* out, const engine::Metrics& m) {
  Counter(out, "delayq_callbacks_ok_total", "Callbacks answered with a 2xx status.",
          m.callbacks_ok.load(std::memory_order_relaxed));
  Counter(out, "delayq_callbacks_failed_total",
          "Callbacks that failed (other status, timeout, connection error); retried or dead.",
          m.callbacks_failed.load(std::memory_order_relaxed));
  Counter(out, "delayq_callbacks_dead_total", "Callback tasks that used up max_attempts.",
          m.callbacks_dead.load(std::memory_order_relaxed));
  *out +=
      "# HELP delayq_callback_failures_total Failed callbacks by reason: no_answer (timeout, "
      "refused, DNS, TLS), http_5xx, http_other (1xx, 3xx, 4xx).\n"
      "# TYPE delayq_callback_failures_total counter\n";
  *out += fmt::format("delayq_callback_failures_total{{reason=\"no_answer\"}} {}\n",
                      m.callbacks_no_answer.load(std::memory_order_relaxed));
  *out += fmt::format("delayq_callback_failures_total{{reason=\"http_5xx\"}} {}\n",
                      m.callbacks_5xx.load(std::memory_order_relaxed));
  *out += fmt::format("delayq_callback_failures_total{{reason=\"http_other\"}} {}\n",
                      m.callbacks_other_status.load(std::memory_order_relaxed));
}

// The latency histograms the engine fills.
void Histograms(std::string* out, const engine::Metrics& m) {
  *out +=
      "# HELP delayq_delivery_lateness_seconds Time from due to delivery.\n"
      "# TYPE delayq_delivery_lateness_seconds histogram\n";
  m.delivery_lateness.Render("delayq_delivery_lateness_seconds", "", out);
  *out +=
      "# HELP delayq_callback_seconds Time from sending a callback to its outcome.\n"
      "# TYPE delayq_callback_seconds histogram\n";
  m.callback_latency.Render("delayq_callback_seconds", "", out);
  *out +=
      "# HELP delayq_commit_seconds Duration of one group commit's store write.\n"
      "# TYPE delayq_commit_seconds histogram\n";
  m.commit_latency.Render("delayq_commit_seconds", "", out);
  *out +=
      "# HELP delayq_store_job_seconds Duration of one other store worker job (claim, ack, "
      "nack, cancel, lease expiry, purge slice, ...).\n"
      "# TYPE delayq_store_job_seconds histogram\n";
  m.store_job_latency.Render("delayq_store_job_seconds", "", out);
}

// The series a backend exports of its own (Redis: topology, errors, hint failures).
void BackendSeries(std::string* out, const store::StoreStats& stats) {
  for (const store::BackendMetric& metric : stats.backend) {
    *out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", metric.name, metric.help, metric.name,
                        metric.counter ? "counter" : "gauge");
    for (const auto& [labels, value] : metric.samples) {
      *out += labels.empty() ? fmt::format("{} {}\n", metric.name, value)
                             : fmt::format("{}{{{}}} {}\n", metric.name, labels, value);
    }
  }
}

// Per configured sink: messages stored, failed sends, in flight, send latency, reachable.
void SinkSeries(std::string* out, const delivery::Sinks& sinks) {
  using delivery::SinkKind;
  std::vector<SinkKind> kinds;
  for (SinkKind kind : {SinkKind::kKafka, SinkKind::kRedisStream}) {
    if (sinks.Find(kind) != nullptr) kinds.push_back(kind);
  }
  if (kinds.empty()) return;
  auto each = [&](const char* name, const char* type, const char* help, auto value) {
    *out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    for (SinkKind kind : kinds) {
      *out +=
          fmt::format("{}{{sink=\"{}\"}} {}\n", name, delivery::SinkKindName(kind), value(kind));
    }
  };
  each(
      "delayq_sink_produced_total", "counter",
      "Messages a sink stored (Kafka: acknowledged by the in-sync replicas; Redis: XADD answered).",
      [&](SinkKind k) { return sinks.metrics(k).produced.load(std::memory_order_relaxed); });
  each("delayq_sink_failed_total", "counter",
       "Sends that failed (the task goes to its retry policy, or dead).",
       [&](SinkKind k) { return sinks.metrics(k).failed.load(std::memory_order_relaxed); });
  each("delayq_sink_in_flight", "gauge", "Messages sent whose outcome is not known yet.",
       [&](SinkKind k) { return sinks.metrics(k).in_flight.load(std::memory_order_relaxed); });
  each("delayq_sink_up", "gauge",
       "1 while the sink reaches its brokers (or Redis), 0 while not (/readyz says why).",
       [&](SinkKind k) { return sinks.Find(k)->Problem().empty() ? 1 : 0; });
  *out +=
      "# HELP delayq_sink_produce_seconds Time from a sink's send to its outcome.\n"
      "# TYPE delayq_sink_produce_seconds histogram\n";
  for (SinkKind kind : kinds) {
    sinks.metrics(kind).latency.Render("delayq_sink_produce_seconds",
                                       fmt::format("sink=\"{}\"", delivery::SinkKindName(kind)),
                                       out);
  }
}

}  // namespace

std::string RenderMetrics(engine::Engine& engine, const HttpMetrics& http,
                          const delivery::Sinks* sinks) {
  const engine::Metrics& m = engine.metrics();
  store::StoreStats stats = engine.StoreStats();
  std::string out;
  out.reserve(16384);
  out += fmt::format(
      "# HELP delayq_build_info The running delayq version (always 1).\n"
      "# TYPE delayq_build_info gauge\n"
      "delayq_build_info{{version=\"{}\"}} 1\n"
      "# HELP delayq_start_time_seconds Unix time at which the process started.\n"
      "# TYPE delayq_start_time_seconds gauge\n"
      "delayq_start_time_seconds {:.3f}\n",
      DELAYQ_VERSION, kStartTimeSeconds);
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
  CallbackCounters(&out, m);
  Counter(&out, "delayq_leases_expired_total",
          "Pull leases and callback delivery leases that ran out (the task is due again, or "
          "dead when out of attempts).",
          m.leases_expired.load(std::memory_order_relaxed));
  Counter(&out, "delayq_dead_redriven_total",
          "Dead tasks put back to due, one by one or in bulk (redrive).",
          m.dead_redriven.load(std::memory_order_relaxed));
  Counter(&out, "delayq_dead_deleted_total", "Dead tasks deleted in bulk (dead:delete).",
          m.dead_deleted.load(std::memory_order_relaxed));
  Counter(&out, "delayq_tasks_promoted_total", "Tasks whose due time came (moved to ready).",
          m.tasks_promoted.load(std::memory_order_relaxed));
  Gauge(&out, "delayq_window_scheduled_tasks", "Tasks in the in-memory near window, not yet due.",
        stats.window_scheduled);
  Gauge(&out, "delayq_window_ready_tasks", "Due tasks in memory waiting for a consumer.",
        stats.window_ready);
  Gauge(&out, "delayq_pulls_waiting", "v1 pulls waiting for a task (long polls).",
        engine.PullsWaiting());
  Histograms(&out, m);
  if (sinks != nullptr) SinkSeries(&out, *sinks);
  BackendSeries(&out, stats);
  StateGauges(&out, engine);
  TopicSeries(&out, m);
  http.Render(&out);
  return out;
}

}  // namespace delayq::api
