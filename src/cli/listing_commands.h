#pragma once

#include <memory>
#include <optional>

namespace CLI {
class App;
}

namespace delayq::cli {

// `delayq tasks list TOPIC [--state S] [--from T] [--to T] [--limit N] [--cursor C]`: a topic's
// tasks by due time, one page (the next page's cursor printed last); `delayq horizon [TOPIC]
// [--bucket minute|hour]`: how many tasks fall due per bucket. Each takes --server (env
// DELAYQ_SERVER), --token (env DELAYQ_TOKEN) and --json.
class ListingCommands {
 public:
  // Registers `tasks` and `horizon` on `app`, which must outlive this object.
  explicit ListingCommands(CLI::App& app);
  ~ListingCommands();

  // After app.parse(): the exit status of the subcommand given, or nullopt.
  std::optional<int> Run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace delayq::cli
