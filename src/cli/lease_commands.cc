// The lease subcommands: ack and nack (one task, or many in one batch request), extend.
#include <iostream>

#include "cli/commands_impl.h"
#include "cli/format.h"
#include "cli/table.h"
#include "common/duration.h"

namespace delayq::cli {

namespace json = boost::json;

int Commands::Impl::RunLeaseAction(std::string_view command) {
  int64_t delay_ms = 0;
  if (!delay.empty()) {
    auto ms = ParseDurationMs(delay);
    if (!ms || *ms < 0) {
      return Usage(command, "--delay '" + delay + "' is not a duration: use e.g. 30s or 5m");
    }
    delay_ms = *ms;
  }
  if (lease_token.empty()) return RunLeaseBatch(command, delay_ms);
  if (lease_items.size() != 1) {
    return Usage(command, "--lease goes with one task id; for many tasks give ID:LEASE for each");
  }
  id = lease_items.front();
  if (!IsTaskId(id)) return Usage(command, BadId());
  json::object body{{"lease", lease_token}};
  if (!delay.empty()) body["delay_ms"] = delay_ms;
  return ShowTask(command, "POST", "/v1/tasks/" + id + "/" + std::string(command),
                  json::serialize(body));
}

// `delayq ack ID:LEASE ID:LEASE ...`: one POST /v1/tasks:ack for all, a line per task.
int Commands::Impl::RunLeaseBatch(std::string_view command, int64_t delay_ms) {
  std::vector<LeaseItem> items;
  for (const std::string& item : lease_items) {
    size_t colon = item.find(':');
    if (colon == std::string::npos) {
      return Usage(command, "--lease is required for a bare task id ('" + item +
                                "'); or give ID:LEASE for each task (as printed by delayq pull)");
    }
    LeaseItem parsed{item.substr(0, colon), item.substr(colon + 1)};
    if (!IsTaskId(parsed.id)) {
      return Usage(command, "'" + item + "': the task id before ':' must be a positive decimal " +
                                "number (as printed by delayq pull)");
    }
    if (parsed.lease.empty()) {
      return Usage(command, "'" + item + "': the lease after ':' is empty");
    }
    items.push_back(std::move(parsed));
  }
  if (items.size() > kMaxLeaseBatch) {
    return Usage(command, "at most " + std::to_string(kMaxLeaseBatch) + " tasks per call, not " +
                              std::to_string(items.size()));
  }
  Client client(common.server, common.token);
  int exit_code = kExitOk;
  std::string raw;
  auto outcomes =
      SettleBatch(client, command, command == "nack", items, delay_ms, &exit_code, &raw);
  if (!outcomes) return exit_code;
  if (common.json) {
    std::cout << raw << "\n";
    return exit_code;
  }
  Table table({"ID", "STATE"});
  for (const BatchOutcome& outcome : *outcomes) {
    table.Row({outcome.id, outcome.error.empty() ? outcome.state : "refused"});
  }
  table.Print(std::cout);
  return exit_code;
}

std::optional<std::vector<Commands::Impl::BatchOutcome>> Commands::Impl::SettleBatch(
    Client& client, std::string_view command, bool nack, const std::vector<LeaseItem>& items,
    int64_t delay_ms, int* exit_code, std::string* raw_body) {
  json::array list;
  for (const LeaseItem& item : items) {
    json::object entry{{"id", item.id}, {"lease", item.lease}};
    if (nack && delay_ms > 0) entry["delay_ms"] = delay_ms;
    list.push_back(std::move(entry));
  }
  json::object body{{nack ? "nacks" : "acks", std::move(list)}};
  auto reply = Call(client, command, "POST", nack ? "/v1/tasks:nack" : "/v1/tasks:ack",
                    json::serialize(body), exit_code);
  if (!reply) return std::nullopt;
  if (raw_body != nullptr) *raw_body = reply->body;
  boost::system::error_code ec;
  json::value answer = json::parse(reply->body, ec);
  const json::value* results =
      !ec && answer.is_object() ? answer.as_object().if_contains("results") : nullptr;
  if (results == nullptr || !results->is_array()) {
    std::cerr << "delayq " << command << ": the server's answer has no results list\n";
    *exit_code = kExitRefused;
    return std::nullopt;
  }
  std::vector<BatchOutcome> outcomes;
  for (const json::value& result : results->as_array()) {
    if (!result.is_object()) continue;
    const json::object& entry = result.as_object();
    BatchOutcome outcome{Text(entry.if_contains("id")), Text(entry.if_contains("state")), ""};
    if (const json::value* error = entry.if_contains("error"); error && error->is_object()) {
      outcome.error = std::to_string(Int(error->as_object(), "code")) + " " +
                      Text(error->as_object().if_contains("message"));
      std::cerr << "delayq " << command << ": task " << outcome.id << ": the server answered "
                << outcome.error << "\n";
      *exit_code = kExitRefused;
    }
    outcomes.push_back(std::move(outcome));
  }
  return outcomes;
}

int Commands::Impl::RunExtend() {
  if (!IsTaskId(id)) return Usage("extend", BadId());
  auto ms = ParseDurationMs(extend_for);
  if (!ms || *ms < 100 || *ms > 43'200'000) {
    return Usage("extend", "--for '" + extend_for + "' is not a lease length from 100ms to 12h");
  }
  json::object body{{"lease", lease_token}, {"lease_ms", *ms}};
  Exchanged call = Exchange("extend", "POST", "/v1/tasks/" + id + "/extend", json::serialize(body));
  if (!call.answer) return call.exit_code;
  const json::object& answer = *call.answer;
  Table table({"FIELD", "VALUE"});
  table.Row({"id", Text(answer.if_contains("id"))});
  table.Row({"lease", Text(answer.if_contains("lease"))});
  table.Row({"lease until", Time(Int(answer, "lease_until_ms"), NowMs())});
  table.Print(std::cout, /*header=*/false);
  return kExitOk;
}

}  // namespace delayq::cli
