#include "cli/topic_commands.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/call.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/http.h"
#include "common/topic_name.h"

namespace delayq::cli {

namespace json = boost::json;

namespace {
constexpr std::chrono::milliseconds kCallTimeout{30'000};
}  // namespace

struct TopicCommands::Impl {
  CLI::App* root = nullptr;
  CLI::App* pause = nullptr;
  CLI::App* resume = nullptr;

  std::string server = "http://127.0.0.1:7700";
  std::string token;
  bool json_out = false;
  std::vector<std::pair<CLI::Option*, CLI::Option*>> connection;
  std::string name;

  CLI::App* Named(const char* verb, const char* help) {
    CLI::App* command = root->add_subcommand(verb, help);
    command->add_option("name", name, "topic name")->required();
    auto* s = command->add_option("--server", server,
                                  "base URL of the delayq server (env DELAYQ_SERVER)");
    auto* t = command->add_option("--token", token, "bearer token (env DELAYQ_TOKEN)");
    connection.emplace_back(s, t);
    command->add_flag("--json", json_out, "print the server's JSON answer as it is");
    return command;
  }

  void Register(CLI::App& app) {
    root = app.add_subcommand("topic", "topic admin: pause, resume");
    root->require_subcommand(1);
    pause = Named("pause",
                  "stop delivering a topic's tasks (adds go on; leases and calls already out "
                  "finish)");
    resume = Named("resume", "deliver a paused topic's tasks again, oldest due first");
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

  int RunChange(std::string_view verb) {
    std::string command = "topic " + std::string(verb);
    if (!IsValidTopic(name)) {
      std::cerr << "delayq " << command << ": '" << name
                << "' is not a valid topic name: use 1-128 characters of A-Z a-z 0-9 . _ : -\n";
      return kExitUsage;
    }
    Client client(server, token);
    int exit_code = kExitOk;
    auto reply = CallServer(client, command, "POST", "/v1/topics/" + name + "/" + std::string(verb),
                            "", json_out, &exit_code, kCallTimeout);
    if (!reply) return exit_code;
    if (json_out) {
      std::cout << reply->body << "\n";
      return exit_code;
    }
    boost::system::error_code ec;
    json::value parsed = json::parse(reply->body, ec);
    if (ec || !parsed.is_object()) {
      std::cerr << "delayq " << command << ": the server's answer is not a JSON object\n";
      return kExitRefused;
    }
    const json::object& t = parsed.as_object();
    const json::value* paused = t.if_contains("paused");
    if (paused != nullptr && paused->is_bool() && paused->as_bool()) {
      std::cout << "topic " << name << " paused since " << UtcTime(Int(t, "paused_at_ms")) << " ("
                << Int(t, "due") << " due waiting)\n";
    } else {
      std::cout << "topic " << name << " delivering\n";
    }
    return exit_code;
  }

  std::optional<int> Run() {
    if (!root->parsed()) return std::nullopt;
    ApplyEnvironment();
    if (pause->parsed()) return RunChange("pause");
    if (resume->parsed()) return RunChange("resume");
    return std::nullopt;
  }
};

TopicCommands::TopicCommands(CLI::App& app) : impl_(std::make_unique<Impl>()) {
  impl_->Register(app);
}

TopicCommands::~TopicCommands() = default;

std::optional<int> TopicCommands::Run() { return impl_->Run(); }

}  // namespace delayq::cli
