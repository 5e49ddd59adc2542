#pragma once

#include <memory>
#include <optional>

namespace CLI {
class App;
}

namespace delayq::cli {

// `delayq schedule put|get|list|delete|pause|resume|trigger`: the v1 schedule API. Each takes
// --server (env DELAYQ_SERVER), --token (env DELAYQ_TOKEN) and --json.
class ScheduleCommands {
 public:
  // Registers `schedule` on `app`, which must outlive this object.
  explicit ScheduleCommands(CLI::App& app);
  ~ScheduleCommands();

  // After app.parse(): the exit status of the schedule subcommand given, or nullopt.
  std::optional<int> Run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace delayq::cli
