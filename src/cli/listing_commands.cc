#include "cli/listing_commands.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/call.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/http.h"
#include "cli/table.h"
#include "common/duration.h"
#include "common/topic_name.h"

namespace delayq::cli {

namespace json = boost::json;

namespace {

constexpr std::chrono::milliseconds kCallTimeout{30'000};

// A time option: unix milliseconds, or a duration from now ("90s", "2h").
std::optional<int64_t> ParseWhen(const std::string& text) {
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec == std::errc() && end == text.data() + text.size() && ms >= 0) return ms;
  auto delay = ParseDurationMs(text);
  if (delay) return NowMs() + *delay;
  return std::nullopt;
}

std::optional<json::object> ParseObject(const std::string& body, const std::string& command) {
  boost::system::error_code ec;
  json::value parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) {
    std::cerr << "delayq " << command << ": the server's answer is not a JSON object\n";
    return std::nullopt;
  }
  return parsed.as_object();
}

}  // namespace

struct ListingCommands::Impl {
  CLI::App* tasks = nullptr;
  CLI::App* list = nullptr;
  CLI::App* horizon = nullptr;

  std::string server = "http://127.0.0.1:7700";
  std::string token;
  bool json_out = false;
  std::vector<std::pair<CLI::Option*, CLI::Option*>> connection;
  std::string topic;
  std::string state = "scheduled";
  std::string from;
  std::string to;
  std::string cursor;
  int limit = 100;
  std::string bucket = "minute";

  void Connection(CLI::App* command) {
    auto* s = command->add_option("--server", server,
                                  "base URL of the delayq server (env DELAYQ_SERVER)");
    auto* t = command->add_option("--token", token, "bearer token (env DELAYQ_TOKEN)");
    connection.emplace_back(s, t);
    command->add_flag("--json", json_out, "print the server's JSON answer as it is");
  }

  void Register(CLI::App& app) {
    tasks = app.add_subcommand("tasks", "a topic's tasks: list");
    tasks->require_subcommand(1);
    list = tasks->add_subcommand("list", "a topic's tasks by due time, one page");
    list->add_option("topic", topic, "topic name")->required();
    list->add_option("--state", state, "scheduled, due or dead")->capture_default_str();
    list->add_option("--from", from, "due at or after: unix ms, or a duration from now (10m)");
    list->add_option("--to", to, "due before: unix ms, or a duration from now (2h)");
    list->add_option("--limit", limit, "at most this many (1-1000)")->capture_default_str();
    list->add_option("--cursor", cursor, "the next page: the cursor the previous page printed");
    Connection(list);
    horizon = app.add_subcommand(
        "horizon", "how many tasks fall due per minute (next hour) or per hour (next 7 days)");
    horizon->add_option("topic", topic, "topic name (default: all topics)");
    horizon->add_option("--bucket", bucket, "minute or hour")->capture_default_str();
    Connection(horizon);
  }

  // A flag wins over the environment, which wins over the default.
  void ApplyEnvironment() {
    for (auto [s, t] : connection) {
      if (s->count() == 0 && std::getenv("DELAYQ_SERVER") && *std::getenv("DELAYQ_SERVER")) {
        server = std::getenv("DELAYQ_SERVER");
      }
      if (t->count() == 0 && std::getenv("DELAYQ_TOKEN")) token = std::getenv("DELAYQ_TOKEN");
    }
  }

  bool CheckTopic(const std::string& command) {
    if (IsValidTopic(topic)) return true;
    std::cerr << "delayq " << command << ": '" << topic
              << "' is not a valid topic name: use 1-128 characters of A-Z a-z 0-9 . _ : -\n";
    return false;
  }

  // The query of `tasks list`, or nullopt after a usage message.
  std::optional<std::string> ListQuery() {
    std::string query = "?state=" + state + "&limit=" + std::to_string(limit);
    for (auto [name, text] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
      if (text->empty()) continue;
      auto ms = ParseWhen(*text);
      if (!ms) {
        std::cerr << "delayq tasks list: --" << name << " '" << *text
                  << "' is neither unix milliseconds nor a duration such as 90s or 2h\n";
        return std::nullopt;
      }
      query += "&" + std::string(name) + "_ms=" + std::to_string(*ms);
    }
    if (!cursor.empty()) query += "&cursor=" + cursor;
    return query;
  }

  int RunList() {
    const std::string command = "tasks list";
    if (!CheckTopic(command)) return kExitUsage;
    auto query = ListQuery();
    if (!query) return kExitUsage;
    Client client(server, token);
    int exit_code = kExitOk;
    auto reply = CallServer(client, command, "GET", "/v1/topics/" + topic + "/tasks" + *query, "",
                            json_out, &exit_code, kCallTimeout);
    if (!reply) return exit_code;
    if (json_out) {
      std::cout << reply->body << "\n";
      return exit_code;
    }
    auto answer = ParseObject(reply->body, command);
    if (!answer) return kExitRefused;
    int64_t now = NowMs();
    Table table({"ID", "STATE", "KIND", "DUE", "ATTEMPTS", "PAYLOAD"});
    for (const json::value& item : answer->at("tasks").as_array()) {
      const json::object& t = item.as_object();
      table.Row({Text(t.if_contains("id")), Text(t.if_contains("state")),
                 Text(t.if_contains("kind")), Time(Int(t, "due_at_ms"), now),
                 std::to_string(Int(t, "attempts")), Truncate(Text(t.if_contains("payload")), 60)});
    }
    if (table.empty()) {
      std::cout << "no " << state << " tasks in this page\n";
    } else {
      table.Print(std::cout);
    }
    const json::value* next = answer->if_contains("next_cursor");
    if (next != nullptr && next->is_string()) {
      std::cout << "next page: --cursor " << std::string_view(next->as_string()) << "\n";
    }
    return exit_code;
  }

  int RunHorizon() {
    const std::string command = "horizon";
    if (!topic.empty() && !CheckTopic(command)) return kExitUsage;
    if (bucket != "minute" && bucket != "hour") {
      std::cerr << "delayq horizon: --bucket must be minute or hour, not '" << bucket << "'\n";
      return kExitUsage;
    }
    std::string path = topic.empty() ? "/v1/horizon" : "/v1/topics/" + topic + "/horizon";
    Client client(server, token);
    int exit_code = kExitOk;
    auto reply = CallServer(client, command, "GET", path + "?bucket=" + bucket, "", json_out,
                            &exit_code, kCallTimeout);
    if (!reply) return exit_code;
    if (json_out) {
      std::cout << reply->body << "\n";
      return exit_code;
    }
    auto answer = ParseObject(reply->body, command);
    if (!answer) return kExitRefused;
    Table table({"FROM", "COUNT"});
    auto count = [](const json::object& b) {
      const json::value* exact = b.if_contains("exact");
      bool is_exact = exact == nullptr || !exact->is_bool() || exact->as_bool();
      return (is_exact ? "" : "~") + std::to_string(Int(b, "count"));
    };
    if (const json::value* overdue = answer->if_contains("overdue");
        overdue && overdue->is_object()) {
      table.Row({"overdue", count(overdue->as_object())});
    }
    for (const json::value& item : answer->at("buckets").as_array()) {
      const json::object& b = item.as_object();
      table.Row({UtcTime(Int(b, "start_ms")), count(b)});
    }
    table.Print(std::cout);
    std::cout << "(~: estimated)\n";
    return exit_code;
  }

  std::optional<int> Run() {
    if (list->parsed()) {
      ApplyEnvironment();
      return RunList();
    }
    if (horizon->parsed()) {
      ApplyEnvironment();
      return RunHorizon();
    }
    return std::nullopt;
  }
};

ListingCommands::ListingCommands(CLI::App& app) : impl_(std::make_unique<Impl>()) {
  impl_->Register(app);
}

ListingCommands::~ListingCommands() = default;

std::optional<int> ListingCommands::Run() { return impl_->Run(); }

}  // namespace delayq::cli
