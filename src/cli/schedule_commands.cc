#include "cli/schedule_commands.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "cli/call.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/http.h"
#include "cli/table.h"
#include "common/duration.h"

namespace delayq::cli {

namespace json = boost::json;

namespace {

constexpr std::chrono::milliseconds kCallTimeout{30'000};

std::string Ms(const json::value* value) {
  if (value == nullptr || !value->is_int64()) return "-";
  return UtcTime(value->as_int64());
}

std::string Timing(const json::object& s) {
  if (const json::value* cron = s.if_contains("cron")) return "cron " + Text(cron);
  return "every " + Text(s.if_contains("every_ms")) + " ms";
}

int Usage(std::string_view message) {
  std::cerr << "delayq schedule: " << message << "\n";
  return kExitUsage;
}

}  // namespace

struct ScheduleCommands::Impl {
  CLI::App* root = nullptr;
  CLI::App* put = nullptr;
  CLI::App* get = nullptr;
  CLI::App* list = nullptr;
  CLI::App* remove = nullptr;
  CLI::App* pause = nullptr;
  CLI::App* resume = nullptr;
  CLI::App* trigger = nullptr;

  std::string server = "http://127.0.0.1:7700";
  std::string token;
  bool json_out = false;
  std::vector<std::pair<CLI::Option*, CLI::Option*>> connection;

  std::string name, topic, cron, every, zone, catch_up, payload = "", callback, jitter, after;
  bool paused = false;
  int64_t max_attempts = 0;
  int64_t limit = 100;

  void Common(CLI::App* command) {
    auto* s = command->add_option("--server", server,
                                  "base URL of the delayq server (env "
                                  "DELAYQ_SERVER)");
    auto* t = command->add_option("--token", token, "bearer token (env DELAYQ_TOKEN)");
    connection.emplace_back(s, t);
    command->add_flag("--json", json_out, "print the server's JSON answer as it is");
  }

  CLI::App* Named(const char* verb, const char* help) {
    CLI::App* command = root->add_subcommand(verb, help);
    command->add_option("name", name, "schedule name")->required();
    Common(command);
    return command;
  }

  void Register(CLI::App& app) {
    root = app.add_subcommand("schedule",
                              "recurring schedules: put, get, list, delete, pause, "
                              "resume, trigger");
    root->require_subcommand(1);
    put = Named("put", "create or replace a schedule");
    put->add_option("--topic", topic, "topic of the tasks it makes")->required();
    put->add_option("--cron", cron, "cron expression (5 fields, or 6 with seconds first)");
    put->add_option("--every", every, "fixed interval instead of cron: 1s, 5m, 1h ...");
    put->add_option("--tz", zone, "IANA time zone of the cron expression (default UTC)");
    put->add_option("--catch-up", catch_up, "after downtime: skip, latest (default) or all");
    put->add_option("--payload", payload, "payload of each task (JSON, or taken as a string)");
    put->add_option("--callback", callback, "URL delayq calls at each occurrence (else pull)");
    put->add_option("--jitter", jitter, "delay each task by up to this much (e.g. 2s)");
    put->add_option("--max-attempts", max_attempts, "deliveries allowed per task");
    put->add_flag("--paused", paused, "create it paused");
    get = Named("get", "show a schedule with its next fire times");
    list = root->add_subcommand("list", "list schedules, by name");
    list->add_option("--topic", topic, "only this topic's");
    list->add_option("--limit", limit, "at most this many (1-1000)")->capture_default_str();
    list->add_option("--after", after, "start after this name (next_cursor)");
    Common(list);
    remove = Named("delete", "delete a schedule (its pending task is cancelled)");
    pause = Named("pause", "pause a schedule (its pending task is cancelled)");
    resume = Named("resume", "resume a paused schedule from the next occurrence");
    trigger = Named("trigger", "make one task of a schedule now");
  }

  void ApplyEnvironment() {
    for (auto [s, t] : connection) {
      if (s->count() == 0 && std::getenv("DELAYQ_SERVER") && *std::getenv("DELAYQ_SERVER")) {
        server = std::getenv("DELAYQ_SERVER");
      }
      if (t->count() == 0 && std::getenv("DELAYQ_TOKEN")) token = std::getenv("DELAYQ_TOKEN");
    }
  }

  std::optional<json::object> Send(std::string_view method, const std::string& path,
                                   const std::string& body, int* exit_code) {
    Client client(server, token);
    std::string command = "schedule";
    auto reply = CallServer(client, command, method, path, body, json_out, exit_code, kCallTimeout);
    if (!reply) return std::nullopt;
    if (json_out) std::cout << reply->body << "\n";
    boost::system::error_code ec;
    json::value parsed = json::parse(reply->body, ec);
    if (ec || !parsed.is_object()) {
      std::cerr << "delayq schedule: the server's answer is not a JSON object\n";
      *exit_code = kExitRefused;
      return std::nullopt;
    }
    return std::move(parsed.as_object());
  }

  static void Print(const json::object& s) {
    Table table({"FIELD", "VALUE"});
    table.Row({"name", Text(s.if_contains("name"))});
    table.Row({"topic", Text(s.if_contains("topic"))});
    table.Row({"timing", Timing(s)});
    table.Row({"time zone", Text(s.if_contains("time_zone"))});
    table.Row({"catch up", Text(s.if_contains("catch_up"))});
    table.Row({"paused", Text(s.if_contains("paused"))});
    std::string next;
    if (const json::value* fires = s.if_contains("next_ms"); fires && fires->is_array()) {
      for (const json::value& t : fires->as_array()) {
        next += (next.empty() ? "" : ", ") + Ms(&t);
      }
    }
    table.Row({"next", next.empty() ? "-" : next});
    table.Row({"last occurrence", Ms(s.if_contains("last_occurrence_ms"))});
    table.Row({"last task", Text(s.if_contains("last_task_id"))});
    table.Print(std::cout, /*header=*/false);
  }

  int RunPut() {
    if (cron.empty() == every.empty()) return Usage("put: give exactly one of --cron and --every");
    json::object body;
    body["topic"] = topic;
    if (!cron.empty()) body["cron"] = cron;
    if (!every.empty()) {
      auto ms = ParseDurationMs(every);
      if (!ms) return Usage("put: --every '" + every + "': " + ms.error().message);
      body["every_ms"] = *ms;
    }
    if (!zone.empty()) body["time_zone"] = zone;
    if (!catch_up.empty()) body["catch_up"] = catch_up;
    if (!jitter.empty()) {
      auto ms = ParseDurationMs(jitter);
      if (!ms) return Usage("put: --jitter '" + jitter + "': " + ms.error().message);
      body["jitter_ms"] = *ms;
    }
    if (paused) body["paused"] = true;
    json::object task;
    boost::system::error_code ec;
    json::value value = json::parse(payload, ec);
    task["payload"] = ec ? json::value(json::string(payload)) : std::move(value);
    if (!callback.empty()) task["callback"] = json::object{{"url", callback}};
    if (max_attempts > 0) task["max_attempts"] = max_attempts;
    body["task"] = std::move(task);
    int exit_code = kExitOk;
    auto s = Send("PUT", "/v1/schedules/" + name, json::serialize(body), &exit_code);
    if (s && !json_out) Print(*s);
    return exit_code;
  }

  int RunList() {
    std::string path = "/v1/schedules?limit=" + std::to_string(limit);
    if (!topic.empty()) path += "&topic=" + topic;
    if (!after.empty()) path += "&cursor=" + after;
    int exit_code = kExitOk;
    auto answer = Send("GET", path, "", &exit_code);
    if (!answer || json_out) return exit_code;
    Table table({"NAME", "TOPIC", "TIMING", "ZONE", "NEXT FIRE", "PAUSED"});
    if (const json::value* items = answer->if_contains("schedules"); items && items->is_array()) {
      for (const json::value& item : items->as_array()) {
        if (!item.is_object()) continue;
        const json::object& s = item.as_object();
        const json::value* fires = s.if_contains("next_ms");
        std::string next = fires && fires->is_array() && !fires->as_array().empty()
                               ? Ms(&fires->as_array().front())
                               : "-";
        table.Row({Text(s.if_contains("name")), Text(s.if_contains("topic")), Timing(s),
                   Text(s.if_contains("time_zone")), next, Text(s.if_contains("paused"))});
      }
    }
    table.Print(std::cout);
    if (const json::value* cursor = answer->if_contains("next_cursor");
        cursor && cursor->is_string()) {
      std::cout << "(more: delayq schedule list --after " << Text(cursor) << ")\n";
    }
    return exit_code;
  }

  int RunNamed(std::string_view method, const std::string& suffix) {
    int exit_code = kExitOk;
    auto answer = Send(method, "/v1/schedules/" + name + suffix, "", &exit_code);
    if (!answer || json_out) return exit_code;
    if (suffix == "/trigger") {
      std::cout << "task " << Text(answer->if_contains("id")) << " made for schedule " << name
                << "\n";
    } else {
      Print(*answer);
    }
    return exit_code;
  }

  std::optional<int> Run() {
    if (!root->parsed()) return std::nullopt;
    ApplyEnvironment();
    if (put->parsed()) return RunPut();
    if (get->parsed()) return RunNamed("GET", "");
    if (list->parsed()) return RunList();
    if (remove->parsed()) return RunNamed("DELETE", "");
    if (pause->parsed()) return RunNamed("POST", "/pause");
    if (resume->parsed()) return RunNamed("POST", "/resume");
    if (trigger->parsed()) return RunNamed("POST", "/trigger");
    return std::nullopt;
  }
};

ScheduleCommands::ScheduleCommands(CLI::App& app) : impl_(std::make_unique<Impl>()) {
  impl_->Register(app);
}

ScheduleCommands::~ScheduleCommands() = default;

std::optional<int> ScheduleCommands::Run() { return impl_->Run(); }

}  // namespace delayq::cli
