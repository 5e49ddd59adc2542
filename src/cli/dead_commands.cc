// `delayq dead redrive TOPIC` and `delayq dead delete TOPIC`: a topic's dead tasks in bulk,
// through POST /v1/topics/{topic}/dead:redrive and dead:delete, called again while the server
// says more remain (each call bounded by the server), up to --limit tasks in all.

#include <algorithm>
#include <iostream>

#include "cli/commands_impl.h"
#include "cli/format.h"
#include "common/topic_name.h"

namespace delayq::cli {

namespace json = boost::json;

namespace {
// The server's bound on one bulk call (docs/API.md, dead:redrive).
constexpr int64_t kMaxBulkCall = 1000;
}  // namespace

void Commands::Impl::RegisterDeadCommands() {
  dead_redrive = dead->add_subcommand(
      "redrive", "put every dead task of a topic back (due now, attempts reset), or --limit many");
  dead_delete =
      dead->add_subcommand("delete", "delete every dead task of a topic for good, or --limit many");
  for (CLI::App* bulk : {dead_redrive, dead_delete}) {
    bulk->add_option("topic", topic, "topic")->required();
    bulk->add_option("--limit", bulk_limit, "at most this many tasks in all (default: all)");
    AddCommon(bulk);
  }
}

int Commands::Impl::RunDeadBulk(std::string_view verb) {
  std::string command = "dead " + std::string(verb);
  if (!IsValidTopic(topic)) {
    return Usage(command, "'" + topic +
                              "' is not a valid topic name: use 1-128 characters of A-Z a-z 0-9 "
                              ". _ : -");
  }
  if (bulk_limit < 0) return Usage(command, "--limit must be 1 or more");
  const std::string counted = verb == "redrive" ? "redriven" : "deleted";
  std::string path = "/v1/topics/" + topic + "/dead:" + std::string(verb);
  int64_t total = 0;
  bool more = true;
  while (more && (bulk_limit == 0 || total < bulk_limit)) {
    int64_t n = bulk_limit == 0 ? kMaxBulkCall : std::min(kMaxBulkCall, bulk_limit - total);
    Exchanged call = Exchange(command, "POST", path, "{\"limit\":" + std::to_string(n) + "}");
    if (call.exit_code != kExitOk) return call.exit_code;
    if (!call.answer) {
      if (!common.json) return kExitRefused;
      // --json printed the answer; read "more" from nowhere: one call only.
      return kExitOk;
    }
    int64_t done = Int(*call.answer, counted);
    total += done;
    const json::value* again = call.answer->if_contains("more");
    more = again != nullptr && again->is_bool() && again->as_bool() && done > 0;
  }
  std::cout << total << " dead task" << (total == 1 ? "" : "s") << " of topic '" << topic << "' "
            << counted << (more ? " (more remain)" : "") << "\n";
  return kExitOk;
}

}  // namespace delayq::cli
