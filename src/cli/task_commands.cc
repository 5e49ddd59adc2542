// Each client subcommand: checks its arguments, makes the call, prints the answer.
#include <algorithm>
#include <iostream>
#include <map>

#include "cli/commands_impl.h"
#include "cli/format.h"
#include "cli/table.h"
#include "common/duration.h"
#include "common/topic_name.h"

namespace delayq::cli {

namespace json = boost::json;

int Commands::Impl::RunAdd() {
  if (!IsValidTopic(topic)) {
    return Usage("add", BadTopic());
  }
  json::object body;
  boost::system::error_code ec;
  json::value value = json::parse(payload, ec);
  body["payload"] = ec ? json::value(json::string(payload)) : std::move(value);
  if (!in.empty()) {
    auto ms = ParseDurationMs(in);
    if (!ms || *ms < 0) {
      return Usage("add", "--in '" + in +
                              "' is not a duration: use a number with a unit, e.g. 30s, "
                              "10m, 2h, 3d");
    }
    body["delay_ms"] = *ms;
  } else if (!at.empty()) {
    if (std::all_of(at.begin(), at.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      if (at.size() > 15) {
        return Usage("add", "--at '" + at +
                                "' is too large for unix milliseconds; give 13 digits or an "
                                "RFC 3339 time such as 2026-11-26T20:00:00Z");
      }
      if (at.size() < 12) {
        return Usage("add", "--at '" + at +
                                "' looks like seconds; give unix milliseconds (13 digits) "
                                "or an RFC 3339 time such as 2026-11-26T20:00:00Z");
      }
      body["at_ms"] = std::stoll(at);
    } else {
      body["at"] = at;
    }
  }
  if (!callback.empty()) {
    if (!callback.starts_with("http://") && !callback.starts_with("https://")) {
      return Usage("add", "--callback '" + callback +
                              "' is not an absolute URL: give http://host/path or "
                              "https://host/path");
    }
    body["callback"] = json::object{{"url", callback}};
  }
  if (max_attempts != 0) {
    if (max_attempts < 1) return Usage("add", "--max-attempts must be at least 1");
    body["max_attempts"] = max_attempts;
  }
  if (!dedup_key.empty()) body["dedup_key"] = dedup_key;
  // As the task's own fields (not headers): the server checks them and names the field.
  if (!traceparent.empty()) body["traceparent"] = traceparent;
  if (!tracestate.empty()) body["tracestate"] = tracestate;

  Exchanged call = Exchange("add", "POST", "/v1/topics/" + topic + "/tasks", json::serialize(body));
  if (!call.answer) return call.exit_code;
  const json::object& answer = *call.answer;
  Table table({"ID", "TOPIC", "DUE"});
  table.Row({Text(answer.if_contains("id")), topic, Time(Int(answer, "due_at_ms"), NowMs())});
  table.Print(std::cout);
  if (call.status == 200) {
    std::cout << "(a task with dedup key '" << dedup_key
              << "' already exists in this topic; nothing was added)\n";
  }
  return kExitOk;
}

int Commands::Impl::RunGet() {
  if (!IsTaskId(id)) return Usage("get", BadId());
  return ShowTask("get", "GET", "/v1/tasks/" + id, "");
}

int Commands::Impl::RunTaskAction(std::string_view command, std::string_view method,
                                  std::string_view suffix) {
  if (!IsTaskId(id)) return Usage(command, BadId());
  return ShowTask(command, method, "/v1/tasks/" + id + std::string(suffix), "");
}

int Commands::Impl::RunPull() {
  if (!IsValidTopic(topic)) {
    return Usage("pull", BadTopic());
  }
  if (max < 1 || max > 1000) return Usage("pull", "--max must be from 1 to 1000");
  auto wait_ms = ParseDurationMs(wait);
  if (!wait_ms || *wait_ms < 0 || *wait_ms > kMaxWaitMs) {
    return Usage("pull", "--wait '" + wait + "' must be a duration from 0 to 30s, e.g. 10s");
  }
  json::object body{{"max", max}, {"wait_ms", *wait_ms}};
  if (!lease.empty()) {
    auto lease_ms = ParseDurationMs(lease);
    if (!lease_ms || *lease_ms <= 0) {
      return Usage("pull", "--lease '" + lease + "' is not a duration: use e.g. 30s or 5m");
    }
    body["lease_ms"] = *lease_ms;
  }
  Client client(common.server, common.token);
  int exit_code = kExitOk;
  auto reply = Call(client, "pull", "POST", "/v1/topics/" + topic + "/pull", json::serialize(body),
                    &exit_code, kCallTimeout + std::chrono::milliseconds(*wait_ms));
  if (!reply) return exit_code;
  auto answer = Answer("pull", *reply, &exit_code);
  if (!answer) return exit_code;
  const json::value* list = answer->if_contains("tasks");
  if (list == nullptr || !list->is_array()) {
    std::cerr << "delayq pull: the server's answer has no tasks list\n";
    return kExitRefused;
  }
  int64_t now = NowMs();
  // --ack: the whole pull in one batch acknowledgement.
  std::map<std::string, std::string> acked;  // task id -> "yes" or why not
  if (ack && !list->as_array().empty()) {
    std::vector<LeaseItem> items;
    for (const json::value& item : list->as_array()) {
      if (!item.is_object()) continue;
      items.push_back(
          {Text(item.as_object().if_contains("id")), Text(item.as_object().if_contains("lease"))});
    }
    auto results = SettleBatch(client, "pull --ack", false, items, 0, &exit_code);
    if (results) {
      for (const BatchOutcome& outcome : *results) {
        acked[outcome.id] = outcome.error.empty() ? "yes" : "no: " + outcome.error;
      }
    }
  }
  Table table(ack ? std::vector<std::string>{"ID", "ATTEMPT", "DUE", "PAYLOAD", "ACKED"}
                  : std::vector<std::string>{"ID", "ATTEMPT", "DUE", "PAYLOAD", "LEASE"});
  for (const json::value& item : list->as_array()) {
    if (!item.is_object()) continue;
    const json::object& task = item.as_object();
    std::string task_id = Text(task.if_contains("id"));
    std::string last = Text(task.if_contains("lease"));
    if (ack) {
      // A task the batch did not settle stays leased to us until its lease runs out.
      auto it = acked.find(task_id);
      last = it == acked.end() ? "no" : Truncate(it->second, kPayloadColumn);
    }
    table.Row({task_id, std::to_string(Int(task, "attempt")), Time(Int(task, "due_at_ms"), now),
               Truncate(Text(task.if_contains("payload")), kPayloadColumn), last});
  }
  if (common.json) return exit_code;
  if (table.empty()) {
    std::cout << "no task due in topic '" << topic << "'\n";
  } else {
    table.Print(std::cout);
  }
  return exit_code;
}

int Commands::Impl::RunTopics() {
  Exchanged call = Exchange("topics", "GET", "/v1/topics", "");
  if (!call.answer) return call.exit_code;
  const json::object& answer = *call.answer;
  Table table({"TOPIC", "SCHEDULED", "DUE", "LEASED", "DELIVERING", "DONE", "DEAD", "CANCELLED",
               "OLDEST DUE", "PAUSED"});
  if (const json::value* list = answer.if_contains("topics"); list && list->is_array()) {
    for (const json::value& item : list->as_array()) {
      if (!item.is_object()) continue;
      const json::object& t = item.as_object();
      json::object counts;
      if (const json::value* c = t.if_contains("counts"); c && c->is_object()) {
        counts = c->as_object();
      }
      auto count = [&](std::string_view state) { return std::to_string(Int(counts, state)); };
      int64_t lateness = Int(t, "oldest_due_lateness_ms");
      table.Row({Text(t.if_contains("topic")), count("scheduled"), std::to_string(Int(t, "due")),
                 count("leased"), count("delivering"), count("done"), count("dead"),
                 count("cancelled"), Int(t, "due") > 0 ? Duration(lateness) + " late" : "-",
                 Text(t.if_contains("paused"))});
    }
  }
  if (table.empty()) {
    std::cout << "no topics yet\n";
  } else {
    table.Print(std::cout);
  }
  return kExitOk;
}

int Commands::Impl::RunDead() {
  if (topic.empty()) {
    return Usage("dead", "--topic is required to list (or: dead redrive|delete TOPIC)");
  }
  if (!IsValidTopic(topic)) {
    return Usage("dead", BadTopic());
  }
  if (limit < 1 || limit > 1000) return Usage("dead", "--limit must be from 1 to 1000");
  std::string path = "/v1/topics/" + topic + "/dead?limit=" + std::to_string(limit);
  if (!after.empty()) {
    if (!IsTaskId(after)) return Usage("dead", "--after must be a task id (from a previous page)");
    path += "&after=" + after;
  }
  Exchanged call = Exchange("dead", "GET", path, "");
  if (!call.answer) return call.exit_code;
  const json::object& answer = *call.answer;
  int64_t now = NowMs();
  Table table({"ID", "ATTEMPTS", "DIED", "LAST ERROR", "PAYLOAD"});
  if (const json::value* list = answer.if_contains("tasks"); list && list->is_array()) {
    for (const json::value& item : list->as_array()) {
      if (!item.is_object()) continue;
      const json::object& task = item.as_object();
      table.Row({Text(task.if_contains("id")), std::to_string(Int(task, "attempts")),
                 Time(Int(task, "finished_at_ms"), now),
                 Truncate(Text(task.if_contains("last_error")), kPayloadColumn),
                 Truncate(Text(task.if_contains("payload")), kPayloadColumn)});
    }
  }
  if (table.empty()) {
    std::cout << "no dead tasks in topic '" << topic << "'\n";
    return kExitOk;
  }
  table.Print(std::cout);
  if (const json::value* next = answer.if_contains("next_after"); next && next->is_string()) {
    std::cout << "(more: delayq dead --topic " << topic << " --after " << Text(next) << ")\n";
  }
  return kExitOk;
}

Commands::Impl::Exchanged Commands::Impl::Exchange(std::string_view command,
                                                   std::string_view method, const std::string& path,
                                                   const std::string& body) {
  Client client(common.server, common.token);
  Exchanged out;
  auto reply = Call(client, command, method, path, body, &out.exit_code);
  if (!reply) return out;
  out.status = reply->status;
  auto answer = Answer(command, *reply, &out.exit_code);
  if (answer && !common.json) out.answer = std::move(answer);
  return out;
}

int Commands::Impl::ShowTask(std::string_view command, std::string_view method,
                             const std::string& path, const std::string& body) {
  Exchanged call = Exchange(command, method, path, body);
  if (!call.answer) return call.exit_code;
  PrintTask(*call.answer);
  return kExitOk;
}

std::string Commands::Impl::BadTopic() const {
  return "--topic '" + topic +
         "' is not a valid topic name: use 1-128 characters of A-Z a-z 0-9 . _ : -";
}

std::string Commands::Impl::BadId() const {
  return "task id '" + id + "' must be a positive decimal number (as printed by delayq add)";
}

void Commands::Impl::PrintTask(const json::object& task) {
  int64_t now = NowMs();
  Table table({"FIELD", "VALUE"});
  table.Row({"id", Text(task.if_contains("id"))});
  table.Row({"topic", Text(task.if_contains("topic"))});
  table.Row({"state", Text(task.if_contains("state"))});
  table.Row({"kind", Text(task.if_contains("kind"))});
  table.Row({"due", Time(Int(task, "due_at_ms"), now)});
  table.Row({"created", Time(Int(task, "created_at_ms"), now)});
  if (task.contains("finished_at_ms")) {
    table.Row({"finished", Time(Int(task, "finished_at_ms"), now)});
  }
  if (task.contains("lease_until_ms")) {
    table.Row({"lease until", Time(Int(task, "lease_until_ms"), now)});
  }
  table.Row({"attempts", std::to_string(Int(task, "attempts")) + " of " +
                             std::to_string(Int(task, "max_attempts"))});
  table.Row({"last error", Text(task.if_contains("last_error"))});
  if (task.contains("dedup_key")) table.Row({"dedup key", Text(task.if_contains("dedup_key"))});
  table.Row({"payload", Text(task.if_contains("payload"))});
  table.Print(std::cout, /*header=*/false);
}

}  // namespace delayq::cli
