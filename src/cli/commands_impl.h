#pragma once

// The client subcommands' shared state: commands.cc registers them and sends calls,
// task_commands.cc runs each one (dead_commands.cc: the dead list in bulk). For cli/commands*.cc,
// cli/task_commands.cc and cli/dead_commands.cc only.

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/http.h"

namespace delayq::cli {

// Beyond the long-poll wait, how long a call may take before the CLI gives up.
inline constexpr std::chrono::milliseconds kCallTimeout{30'000};
// The server's long-poll bound (docs/API.md, pull wait_ms).
inline constexpr int64_t kMaxWaitMs = 30'000;
// The server's bound on one batch acknowledgement (docs/API.md, POST /v1/tasks:ack).
inline constexpr size_t kMaxLeaseBatch = 1000;
// Payloads are cut to this many characters in tables (--json shows them whole).
inline constexpr size_t kPayloadColumn = 60;

struct Common {
  std::string server = "http://127.0.0.1:7700";
  std::string token;
  bool json = false;
};

// A usage error of `command`, printed; returns kExitUsage.
int Usage(std::string_view command, std::string_view message);

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
  std::string traceparent;  // W3C trace context stored with the task (checked by the server)
  std::string tracestate;
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
  // ack, nack: one ID (with --lease) or ID:LEASE items, sent as one batch.
  std::vector<std::string> lease_items;

  CLI::App* pull = nullptr;
  int64_t max = 1;
  std::string wait = "0";
  std::string lease;
  bool ack = false;

  CLI::App* topics = nullptr;

  CLI::App* dead = nullptr;
  int64_t limit = 100;
  std::string after;
  // dead redrive|delete TOPIC (dead_commands.cc); 0: all.
  CLI::App* dead_redrive = nullptr;
  CLI::App* dead_delete = nullptr;
  int64_t bulk_limit = 0;

  explicit Impl(CLI::App& parent) : app(parent) {}

  // Per subcommand: its --server and --token options, to fall back on the environment.
  struct Connection {
    CLI::App* command;
    CLI::Option* server;
    CLI::Option* token;
  };
  std::vector<Connection> connection_options;

  void AddCommon(CLI::App* command);
  // A flag wins over the environment, which wins over the default.
  void ApplyEnvironment();
  void Register();
  void RegisterTaskCommands();
  void RegisterLeaseCommands();
  void RegisterDeadCommands();

  // Sends one call. On an error answer or none, prints why and sets *exit_code.
  std::optional<Reply> Call(Client& client, std::string_view command, std::string_view method,
                            const std::string& path, const std::string& body, int* exit_code,
                            std::chrono::milliseconds timeout = kCallTimeout);
  // Parses a successful answer's JSON object; prints the raw body for --json.
  std::optional<boost::json::object> Answer(std::string_view command, const Reply& reply,
                                            int* exit_code);
  std::optional<int> Run();

  // One call and its JSON answer: `answer` is empty when the call failed (exit_code says
  // why) and with --json (the raw answer was printed).
  struct Exchanged {
    int exit_code = kExitOk;
    int status = 0;
    std::optional<boost::json::object> answer;
  };
  Exchanged Exchange(std::string_view command, std::string_view method, const std::string& path,
                     const std::string& body);
  // A call whose answer is a task, printed as a table.
  int ShowTask(std::string_view command, std::string_view method, const std::string& path,
               const std::string& body);

  int RunAdd();
  int RunGet();
  int RunTaskAction(std::string_view command, std::string_view method, std::string_view suffix);
  int RunLeaseAction(std::string_view command);
  int RunLeaseBatch(std::string_view command, int64_t delay_ms);

  // One lease to end in a batch, and what became of it (`error` empty: `state`).
  struct LeaseItem {
    std::string id;
    std::string lease;
  };
  struct BatchOutcome {
    std::string id;
    std::string state;
    std::string error;  // "409 lease is stale: ..."
  };
  // POST /v1/tasks:ack or :nack with `items` (each nack due again after `delay_ms`). Prints
  // each refused item to stderr and sets *exit_code when any was; nullopt when the call
  // itself failed (printed, *exit_code set). `raw_body` (may be null): the answer as sent.
  std::optional<std::vector<BatchOutcome>> SettleBatch(Client& client, std::string_view command,
                                                       bool nack,
                                                       const std::vector<LeaseItem>& items,
                                                       int64_t delay_ms, int* exit_code,
                                                       std::string* raw_body = nullptr);
  int RunExtend();
  int RunPull();
  int RunTopics();
  int RunDead();
  int RunDeadBulk(std::string_view verb);
  std::string BadTopic() const;
  std::string BadId() const;
  static void PrintTask(const boost::json::object& task);
};

}  // namespace delayq::cli
