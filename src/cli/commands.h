#pragma once

#include <memory>
#include <optional>

namespace CLI {
class App;
}

namespace delayq::cli {

// Exit statuses of the client subcommands (README.md, "Command-line client").
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;      // the server answered with an error (4xx, 5xx)
inline constexpr int kExitUsage = 2;        // bad arguments; nothing was sent
inline constexpr int kExitUnreachable = 3;  // no answer: connection refused, DNS, timeout

// The client subcommands: add, get, cancel, pull, ack, nack, extend, topics, dead, redrive. Each
// takes
// --server (env DELAYQ_SERVER), --token (env DELAYQ_TOKEN) and --json.
class Commands {
 public:
  // Registers the subcommands on `app`, which must outlive this object.
  explicit Commands(CLI::App& app);
  ~Commands();

  // After app.parse(): runs the client subcommand that was given and returns its exit
  // status; nullopt when none of them was given (e.g. `serve`).
  std::optional<int> Run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace delayq::cli
