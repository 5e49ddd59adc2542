#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "cli/call.h"
#include "cli/http.h"
#include "cli/table.h"
#include "common/duration.h"

namespace delayq::cli {

namespace json = boost::json;

namespace {

// Beyond the long-poll wait, how long a call may take before the CLI gives up.
constexpr std::chrono::milliseconds kCallTimeout{30'000};
// The server's long-poll bound (docs/API.md, pull wait_ms).
constexpr int64_t kMaxWaitMs = 30'000;
// Payloads are cut to this many characters in tables (--json shows them whole).
constexpr size_t kPayloadColumn = 60;

struct Common {
  std::string server = "http://127.0.0.1:7700";
  std::string token;
  bool json = false;
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsValidTopic(std::string_view topic) {
  if (topic.empty() || topic.size() > 128) return false;
  return std::all_of(topic.begin(), topic.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' ||
           c == '-';
  });
}

bool IsTaskId(std::string_view id) {
  return !id.empty() && id.size() <= 20 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         id.find_first_not_of('0') != std::string_view::npos;
}

int Usage(std::string_view command, std::string_view message) {
  std::cerr << "delayq " << command << ": " << message << "\n";
  return kExitUsage;
}

// The value as text for a table cell: strings as they are, other JSON compact.
std::string Text(const json::value* value) {
  if (value == nullptr || value->is_null()) return "-";
  if (value->is_string()) return std::string(value->as_string());
  return json::serialize(*value);
}

int64_t Int(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return 0;
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64()) return static_cast<int64_t>(value->as_uint64());
  return 0;
}

std::string Duration(int64_t ms) {
  if (ms < 1000) return std::to_string(ms) + "ms";
  int64_t s = ms / 1000;
  std::string out;
  if (s >= 86400) out += std::to_string(s / 86400) + "d";
  if (s >= 3600) out += std::to_string(s % 86400 / 3600) + "h";
  if (s >= 60) out += std::to_string(s % 3600 / 60) + "m";
  out += std::to_string(s % 60) + "s";
  return out;
}

// "2026-11-26T10:10:00.000Z (in 9m58s)", in UTC like every time the API gives.
std::string Time(int64_t ms, int64_t now_ms) {
  if (ms <= 0) return "-";
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char full[48];
  std::snprintf(full, sizeof full, "%s.%03dZ", text, static_cast<int>(ms % 1000));
  int64_t delta = ms - now_ms;
  std::string relative = delta >= 0 ? "in " + Duration(delta) : Duration(-delta) + " ago";
  return std::string(full) + " (" + relative + ")";
}

std::string Truncate(std::string text, size_t max) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (text.size() <= max) return text;
  return text.substr(0, max - 3) + "...";
}

}  // namespace

// --- Implementation -------------------------------------------------------------------------

struct Commands::Impl {
  CLI::App& app;
  Common common;

  CLI::App* add = nullptr;
  std::string topic;
  std::string in;
  std::string at;
  std::string payload;
  std::string callback;
  std::string dedup_key;
  int64_t max_attempts = 0;

  CLI::App* get = nullptr;
  CLI::App* cancel = nullptr;
  CLI::App* redrive = nullptr;
  CLI::App* ack_command = nullptr;
  CLI::App* nack_command = nullptr;
  CLI::App* extend_command = nullptr;
  std::string extend_for = "30s";
  std::string id;
  std::string lease_token;
  std::string delay;

  CLI::App* pull = nullptr;
  int64_t max = 1;
  std::string wait = "0";
  std::string lease;
  bool ack = false;

  CLI::App* topics = nullptr;

  CLI::App* dead = nullptr;
  int64_t limit = 100;
  std::string after;

  explicit Impl(CLI::App& parent) : app(parent) {}

  // Per subcommand: its --server and --token options, to fall back on the environment.
  struct Connection {
    CLI::App* command;
    CLI::Option* server;
    CLI::Option* token;
  };
  std::vector<Connection> connection_options;

  void AddCommon(CLI::App* command) {
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
  void ApplyEnvironment() {
    for (auto [command, server, token] : connection_options) {
      if (!command->parsed()) continue;
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

  void Register() {
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

    dead = app.add_subcommand("dead", "list the dead tasks of a topic");
    dead->add_option("--topic", topic, "topic")->required();
    dead->add_option("--limit", limit, "at most this many (1-1000)")->capture_default_str();
    dead->add_option("--after", after, "start after this task id (paging)");
    AddCommon(dead);

    redrive = app.add_subcommand("redrive", "put a dead task back: due now, attempts reset");
    redrive->add_option("id", id, "task id")->required();
    AddCommon(redrive);

    // The lease printed by `delayq pull` (without --ack) completes or returns the task.
    ack_command = app.add_subcommand("ack", "complete a task taken by pull (needs its lease)");
    ack_command->add_option("id", id, "task id")->required();
    ack_command->add_option("--lease", lease_token, "the lease printed by delayq pull")->required();
    AddCommon(ack_command);

    nack_command = app.add_subcommand(
        "nack",
        "give back a task taken by pull: due again (attempt + 1), or dead when out of "
        "attempts");
    nack_command->add_option("id", id, "task id")->required();
    nack_command->add_option("--lease", lease_token, "the lease printed by delayq pull")
        ->required();
    nack_command->add_option("--delay", delay, "due again after this long (default: now)");
    AddCommon(nack_command);

    extend_command = app.add_subcommand(
        "extend",
        "keep a task taken by pull for longer: its lease then runs out this long from now");
    extend_command->add_option("id", id, "task id")->required();
    extend_command->add_option("--lease", lease_token, "the lease printed by delayq pull")
        ->required();
    extend_command->add_option("--for", extend_for, "the new lease length, from now (100ms-12h)")
        ->capture_default_str();
    AddCommon(extend_command);
  }

  // Sends one call. On an error answer or none, prints why and sets *exit_code.
  std::optional<Reply> Call(Client& client, std::string_view command, std::string_view method,
                            const std::string& path, const std::string& body, int* exit_code,
                            std::chrono::milliseconds timeout = kCallTimeout) {
    return CallServer(client, command, method, path, body, common.json, exit_code, timeout);
  }

  // Parses a successful answer's JSON object; prints the raw body for --json.
  std::optional<json::object> Answer(std::string_view command, const Reply& reply, int* exit_code) {
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

  std::optional<int> Run() {
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
    if (dead->parsed()) return RunDead();
    return std::nullopt;
  }

  int RunAdd() {
    if (!IsValidTopic(topic)) {
      return Usage("add", "--topic '" + topic +
                              "' is not a valid topic name: use 1-128 characters of "
                              "A-Z a-z 0-9 . _ : -");
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

    Client client(common.server, common.token);
    int exit_code = kExitOk;
    auto reply = Call(client, "add", "POST", "/v1/topics/" + topic + "/tasks",
                      json::serialize(body), &exit_code);
    if (!reply) return exit_code;
    auto answer = Answer("add", *reply, &exit_code);
    if (!answer || common.json) return exit_code;
    Table table({"ID", "TOPIC", "DUE"});
    table.Row({Text(answer->if_contains("id")), topic, Time(Int(*answer, "due_at_ms"), NowMs())});
    table.Print(std::cout);
    if (reply->status == 200) {
      std::cout << "(a task with dedup key '" << dedup_key
                << "' already exists in this topic; nothing was added)\n";
    }
    return kExitOk;
  }

  int RunGet() {
    if (!IsTaskId(id)) return Usage("get", BadId());
    Client client(common.server, common.token);
    int exit_code = kExitOk;
    auto reply = Call(client, "get", "GET", "/v1/tasks/" + id, "", &exit_code);
    if (!reply) return exit_code;
    auto task = Answer("get", *reply, &exit_code);
    if (!task || common.json) return exit_code;
    PrintTask(*task);
    return kExitOk;
  }

  int RunTaskAction(std::string_view command, std::string_view method, std::string_view suffix) {
    if (!IsTaskId(id)) return Usage(command, BadId());
    Client client(common.server, common.token);
    int exit_code = kExitOk;
    auto reply =
        Call(client, command, method, "/v1/tasks/" + id + std::string(suffix), "", &exit_code);
    if (!reply) return exit_code;
    auto task = Answer(command, *reply, &exit_code);
    if (!task || common.json) return exit_code;
    PrintTask(*task);
    return kExitOk;
  }

  int RunLeaseAction(std::string_view command) {
    if (!IsTaskId(id)) return Usage(command, BadId());
    json::object body{{"lease", lease_token}};
    if (!delay.empty()) {
      auto ms = ParseDurationMs(delay);
      if (!ms || *ms < 0) {
        return Usage(command, "--delay '" + delay + "' is not a duration: use e.g. 30s or 5m");
      }
      body["delay_ms"] = *ms;
    }
    Client client(common.server, common.token);
    int exit_code = kExitOk;
    auto reply = Call(client, command, "POST", "/v1/tasks/" + id + "/" + std::string(command),
                      json::serialize(body), &exit_code);
    if (!reply) return exit_code;
    auto task = Answer(command, *reply, &exit_code);
    if (!task || common.json) return exit_code;
    PrintTask(*task);
    return kExitOk;
  }

  int RunExtend() {
    if (!IsTaskId(id)) return Usage("extend", BadId());
    auto ms = ParseDurationMs(extend_for);
    if (!ms || *ms < 100 || *ms > 43'200'000) {
      return Usage("extend", "--for '" + extend_for + "' is not a lease length from 100ms to 12h");
    }
    json::object body{{"lease", lease_token}, {"lease_ms", *ms}};
    Client client(common.server, common.token);
    int exit_code = kExitOk;
    auto reply = Call(client, "extend", "POST", "/v1/tasks/" + id + "/extend",
                      json::serialize(body), &exit_code);
    if (!reply) return exit_code;
    auto answer = Answer("extend", *reply, &exit_code);
    if (!answer || common.json) return exit_code;
    Table table({"FIELD", "VALUE"});
    table.Row({"id", Text(answer->if_contains("id"))});
    table.Row({"lease", Text(answer->if_contains("lease"))});
    table.Row({"lease until", Time(Int(*answer, "lease_until_ms"), NowMs())});
    table.Print(std::cout, /*header=*/false);
    return kExitOk;
  }

  int RunPull() {
    if (!IsValidTopic(topic)) {
      return Usage("pull", "--topic '" + topic +
                               "' is not a valid topic name: use 1-128 characters of "
                               "A-Z a-z 0-9 . _ : -");
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
    auto reply =
        Call(client, "pull", "POST", "/v1/topics/" + topic + "/pull", json::serialize(body),
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
    Table table(ack ? std::vector<std::string>{"ID", "ATTEMPT", "DUE", "PAYLOAD", "ACKED"}
                    : std::vector<std::string>{"ID", "ATTEMPT", "DUE", "PAYLOAD", "LEASE"});
    for (const json::value& item : list->as_array()) {
      if (!item.is_object()) continue;
      const json::object& task = item.as_object();
      std::string task_id = Text(task.if_contains("id"));
      std::string lease_text = Text(task.if_contains("lease"));
      std::string last = lease_text;
      if (ack) {
        json::object ack_body{{"lease", lease_text}};
        auto acked = Call(client, "pull --ack", "POST", "/v1/tasks/" + task_id + "/ack",
                          json::serialize(ack_body), &exit_code);
        if (!acked) {
          // Keep going: the other tasks are still leased to us and can be acked.
          last = "no";
        } else {
          last = "yes";
        }
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

  int RunTopics() {
    Client client(common.server, common.token);
    int exit_code = kExitOk;
    auto reply = Call(client, "topics", "GET", "/v1/topics", "", &exit_code);
    if (!reply) return exit_code;
    auto answer = Answer("topics", *reply, &exit_code);
    if (!answer || common.json) return exit_code;
    Table table({"TOPIC", "SCHEDULED", "DUE", "LEASED", "DELIVERING", "DONE", "DEAD", "CANCELLED",
                 "OLDEST DUE"});
    if (const json::value* list = answer->if_contains("topics"); list && list->is_array()) {
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
                   count("cancelled"), Int(t, "due") > 0 ? Duration(lateness) + " late" : "-"});
      }
    }
    if (table.empty()) {
      std::cout << "no topics yet\n";
    } else {
      table.Print(std::cout);
    }
    return kExitOk;
  }

  int RunDead() {
    if (!IsValidTopic(topic)) {
      return Usage("dead", "--topic '" + topic +
                               "' is not a valid topic name: use 1-128 characters of "
                               "A-Z a-z 0-9 . _ : -");
    }
    if (limit < 1 || limit > 1000) return Usage("dead", "--limit must be from 1 to 1000");
    std::string path = "/v1/topics/" + topic + "/dead?limit=" + std::to_string(limit);
    if (!after.empty()) {
      if (!IsTaskId(after))
        return Usage("dead", "--after must be a task id (from a previous page)");
      path += "&after=" + after;
    }
    Client client(common.server, common.token);
    int exit_code = kExitOk;
    auto reply = Call(client, "dead", "GET", path, "", &exit_code);
    if (!reply) return exit_code;
    auto answer = Answer("dead", *reply, &exit_code);
    if (!answer || common.json) return exit_code;
    int64_t now = NowMs();
    Table table({"ID", "ATTEMPTS", "DIED", "LAST ERROR", "PAYLOAD"});
    if (const json::value* list = answer->if_contains("tasks"); list && list->is_array()) {
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
    if (const json::value* next = answer->if_contains("next_after"); next && next->is_string()) {
      std::cout << "(more: delayq dead --topic " << topic << " --after " << Text(next) << ")\n";
    }
    return kExitOk;
  }

  std::string BadId() const {
    return "task id '" + id + "' must be a positive decimal number (as printed by delayq add)";
  }

  static void PrintTask(const json::object& task) {
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
};

Commands::Commands(CLI::App& app) : impl_(std::make_unique<Impl>(app)) { impl_->Register(); }

Commands::~Commands() = default;

std::optional<int> Commands::Run() { return impl_->Run(); }

}  // namespace delayq::cli
