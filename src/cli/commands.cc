#include "cli/commands.h"

#include <cstdlib>
#include <iostream>

#include "cli/call.h"
#include "cli/commands_impl.h"
#include "cli/format.h"

namespace delayq::cli {

namespace json = boost::json;

int Usage(std::string_view command, std::string_view message) {
  std::cerr << "delayq " << command << ": " << message << "\n";
  return kExitUsage;
}

void Commands::Impl::AddCommon(CLI::App* command) {
  // Not CLI11's envname(): every subcommand binds the same variables, and CLI11 would
  // apply the environment for the subcommands not given too, over the flag's value.
  auto* server = command->add_option("--server", common.server,
                                     "base URL of the delayq server (env DELAYQ_SERVER)");
  server->capture_default_str();
  auto* token = command->add_option(
      "--token", common.token, "bearer token, when the server requires one (env DELAYQ_TOKEN)");
  connection_options.push_back({command, server, token});
  command->add_flag("--json", common.json, "print the server's JSON answer as it is");
}

// A flag wins over the environment, which wins over the default.
void Commands::Impl::ApplyEnvironment() {
  for (auto [command, server, token] : connection_options) {
    // A command given with a subcommand (dead redrive) leaves the connection to that one.
    if (!command->parsed() || !command->get_subcommands().empty()) continue;
    if (server->count() == 0) {
      if (const char* value = std::getenv("DELAYQ_SERVER"); value && *value) {
        common.server = value;
      }
    }
    if (token->count() == 0) {
      if (const char* value = std::getenv("DELAYQ_TOKEN"); value && *value) common.token = value;
    }
  }
}

void Commands::Impl::Register() {
  RegisterTaskCommands();
  RegisterLeaseCommands();
  RegisterDeadCommands();
}

void Commands::Impl::RegisterTaskCommands() {
  add = app.add_subcommand("add", "add a task");
  add->add_option("--topic", topic, "topic of the task")->required();
  auto* in_option =
      add->add_option("--in", in, "due after this long: 500ms, 30s, 10m, 2h, 3d (default: now)");
  auto* at_option = add->add_option(
      "--at", at, "due at this time: RFC 3339 (2026-11-26T20:00:00Z) or unix milliseconds");
  in_option->excludes(at_option);
  add->add_option("--payload", payload,
                  "the payload: JSON ('{\"order\":42}') is sent as JSON, other text as a string")
      ->required();
  add->add_option("--callback", callback,
                  "http(s) URL to call with the payload when due (default: a pull task)");
  add->add_option("--max-attempts", max_attempts, "deliveries before the task is dead");
  add->add_option("--dedup-key", dedup_key,
                  "an add with a key already held in the topic "
                  "answers with the existing task");
  add->add_option("--traceparent", traceparent,
                  "W3C trace context kept with the task and sent on with its deliveries: "
                  "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>");
  add->add_option("--tracestate", tracestate, "W3C tracestate sent with --traceparent")
      ->needs("--traceparent");
  AddCommon(add);

  get = app.add_subcommand("get", "show a task");
  get->add_option("id", id, "task id")->required();
  AddCommon(get);

  cancel = app.add_subcommand("cancel", "cancel a task that has not been delivered yet");
  cancel->add_option("id", id, "task id")->required();
  AddCommon(cancel);

  pull = app.add_subcommand("pull", "take due tasks of a topic under a lease");
  pull->add_option("--topic", topic, "topic to pull from")->required();
  pull->add_option("--max", max, "at most this many tasks (1-1000)")->capture_default_str();
  pull->add_option("--wait", wait, "wait this long for a task when none is due (up to 30s)")
      ->capture_default_str();
  pull->add_option("--lease", lease,
                   "lease time: unacked tasks are handed out again after it (default 30s)");
  pull->add_flag("--ack", ack, "acknowledge each task at once (completes it)");
  AddCommon(pull);

  topics = app.add_subcommand("topics", "list topics with task counts per state");
  AddCommon(topics);

  dead = app.add_subcommand(
      "dead", "list the dead tasks of a topic (--topic), or redrive or delete them in bulk");
  dead->add_option("--topic", topic, "topic (listing)");
  dead->require_subcommand(0, 1);
  dead->add_option("--limit", limit, "at most this many (1-1000)")->capture_default_str();
  dead->add_option("--after", after, "start after this task id (paging)");
  AddCommon(dead);

  redrive = app.add_subcommand("redrive", "put a dead task back: due now, attempts reset");
  redrive->add_option("id", id, "task id")->required();
  AddCommon(redrive);
}

// The lease printed by `delayq pull` (without --ack) completes or returns the task.
void Commands::Impl::RegisterLeaseCommands() {
  constexpr const char* kItems =
      "a task id (with --lease), or ID:LEASE for each of many tasks (one request for all)";
  ack_command = app.add_subcommand(
      "ack", "complete tasks taken by pull (needs their leases): ID --lease LEASE, or ID:LEASE...");
  ack_command->add_option("tasks", lease_items, kItems)->required();
  ack_command->add_option("--lease", lease_token, "the lease printed by delayq pull (one task)");
  AddCommon(ack_command);

  nack_command = app.add_subcommand(
      "nack",
      "give back tasks taken by pull: due again (attempt + 1), or dead when out of "
      "attempts; ID --lease LEASE, or ID:LEASE...");
  nack_command->add_option("tasks", lease_items, kItems)->required();
  nack_command->add_option("--lease", lease_token, "the lease printed by delayq pull (one task)");
  nack_command->add_option("--delay", delay, "due again after this long (default: now)");
  AddCommon(nack_command);

  extend_command = app.add_subcommand(
      "extend", "keep a task taken by pull for longer: its lease then runs out this long from now");
  extend_command->add_option("id", id, "task id")->required();
  extend_command->add_option("--lease", lease_token, "the lease printed by delayq pull")
      ->required();
  extend_command->add_option("--for", extend_for, "the new lease length, from now (100ms-12h)")
      ->capture_default_str();
  AddCommon(extend_command);
}

// Sends one call. On an error answer or none, prints why and sets *exit_code.
std::optional<Reply> Commands::Impl::Call(Client& client, std::string_view command,
                                          std::string_view method, const std::string& path,
                                          const std::string& body, int* exit_code,
                                          std::chrono::milliseconds timeout) {
  return CallServer(client, command, method, path, body, common.json, exit_code, timeout);
}

// Parses a successful answer's JSON object; prints the raw body for --json.
std::optional<json::object> Commands::Impl::Answer(std::string_view command, const Reply& reply,
                                                   int* exit_code) {
  if (common.json) std::cout << reply.body << "\n";
  boost::system::error_code ec;
  json::value parsed = json::parse(reply.body, ec);
  if (ec || !parsed.is_object()) {
    std::cerr << "delayq " << command
              << ": the server's answer is not a JSON object: " << Truncate(reply.body, 200)
              << "\n";
    *exit_code = kExitRefused;
    return std::nullopt;
  }
  return std::move(parsed.as_object());
}

std::optional<int> Commands::Impl::Run() {
  ApplyEnvironment();
  if (add->parsed()) return RunAdd();
  if (get->parsed()) return RunGet();
  if (cancel->parsed()) return RunTaskAction("cancel", "DELETE", "");
  if (redrive->parsed()) return RunTaskAction("redrive", "POST", "/redrive");
  if (ack_command->parsed()) return RunLeaseAction("ack");
  if (nack_command->parsed()) return RunLeaseAction("nack");
  if (extend_command->parsed()) return RunExtend();
  if (pull->parsed()) return RunPull();
  if (topics->parsed()) return RunTopics();
  if (dead_redrive->parsed()) return RunDeadBulk("redrive");
  if (dead_delete->parsed()) return RunDeadBulk("delete");
  if (dead->parsed()) return RunDead();
  return std::nullopt;
}

Commands::Commands(CLI::App& app) : impl_(std::make_unique<Impl>(app)) { impl_->Register(); }

Commands::~Commands() = default;

std::optional<int> Commands::Run() { return impl_->Run(); }

}  // namespace delayq::cli
