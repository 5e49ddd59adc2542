#pragma once

#include <memory>
#include <optional>

namespace CLI {
class App;
}

namespace delayq::cli {

// `delayq topic pause|resume NAME`: stops and restarts a topic's deliveries (the v1 topic
// admin API). Each takes --server (env DELAYQ_SERVER), --token (env DELAYQ_TOKEN) and --json.
class TopicCommands {
 public:
  // Registers `topic` on `app`, which must outlive this object.
  explicit TopicCommands(CLI::App& app);
  ~TopicCommands();

  // After app.parse(): the exit status of the topic subcommand given, or nullopt.
  std::optional<int> Run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace delayq::cli
