// delayq_loadgen: the load generator of bench/run.py, one scenario per subcommand.
//
// One tool drives delayq and the nginx and beanstalkd references alike, so the numbers are
// comparable: same connection handling, same request formatting cost, same latency histogram.
// Each scenario prints one line of JSON on stdout (report.h); diagnostics go to stderr. The exit
// status is non-zero when the run is not a valid measurement (nothing completed, lost,
// duplicated or early tasks), 2 on a usage error.

#include <cstdio>
#include <exception>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "options.h"
#include "scenarios.h"

namespace {

using loadgen::Options;

struct Scenario {
  std::string_view name;
  int (*run)(const Options&);
  std::set<std::string> options;
  std::string_view usage;  // the options with their defaults
};

const std::vector<Scenario>& Scenarios() {
  static const std::vector<Scenario> scenarios = {
      {"add",
       loadgen::RunAdd,
       {"addr", "connections", "duration-s", "topic", "due-offset-s", "threads"},
       "--addr HOST:PORT[,HOST:PORT...] --connections N --duration-s S [--topic T]\n"
       "  [--due-offset-s 3600] [--threads 1]   (seed single adds, closed loop)"},
      {"http",
       loadgen::RunHttp,
       {"addr", "connections", "duration-s", "path", "threads"},
       "--addr HOST:PORT[,...] --connections N --duration-s S [--path /] [--threads 1]"},
      {"batch",
       loadgen::RunBatch,
       {"addr", "connections", "duration-s", "batch", "topic", "delay-ms", "threads"},
       "--addr HOST:PORT[,...] --connections N --duration-s S [--batch 100] [--topic T]\n"
       "  [--delay-ms 3600000] [--threads 1]   (v1 batch adds)"},
      {"fire",
       loadgen::RunFire,
       {"addr", "tasks", "spread-s", "consumers", "topic", "add-connections", "lead-s",
        "timeout-s"},
       "--addr HOST:PORT [--tasks 50000] [--spread-s 5] [--consumers 4] [--topic T]\n"
       "  [--add-connections 32] [--lead-s 3] [--timeout-s 60]   (seed firing, seed pulls)"},
      {"pull",
       loadgen::RunPull,
       {"addr", "tasks", "consumers", "max", "wait-ms", "lease-ms", "preload-connections", "topic",
        "timeout-s", "ack-mode"},
       "--addr HOST:PORT [--tasks 100000] [--consumers 4] [--max 100] [--wait-ms 500]\n"
       "  [--lease-ms 60000] [--preload-connections 4] [--topic T] [--timeout-s 60]\n"
       "  [--ack-mode single|batch]   (v1 pull + ack of tasks due now)"},
      {"fire-ms",
       loadgen::RunFireMs,
       {"addr", "tasks", "spread-ms", "lead-ms", "consumers", "max", "wait-ms", "lease-ms",
        "preload-connections", "topic", "timeout-s", "ack-mode"},
       "--addr HOST:PORT [--tasks 50000] [--spread-ms 5000] [--lead-ms 5000] [--consumers 4]\n"
       "  [--max 100] [--wait-ms 1000] [--lease-ms 60000] [--preload-connections 4] [--topic T]\n"
       "  [--timeout-s 60] [--ack-mode single|batch]   (v1 at_ms firing, pull + ack)"},
      {"longpoll",
       loadgen::RunLongPoll,
       {"addr", "rounds", "delay-ms", "wait-ms", "topic"},
       "--addr HOST:PORT [--rounds 200] [--delay-ms 200] [--wait-ms 10000] [--topic PREFIX]"},
      {"callback-add",
       loadgen::RunCallbackAdd,
       {"addr", "tasks", "url", "lead-ms", "spread-ms", "topic", "connections", "ids-out"},
       "--addr HOST:PORT --tasks N --url URL [--lead-ms 0] [--spread-ms 0] [--topic T]\n"
       "  [--connections 4] [--ids-out FILE]"},
      {"callback-log",
       loadgen::RunCallbackLog,
       {"log", "ids"},
       "--log FILE [--ids FILE]   (lateness and exactly-once from a receiver log)"},
      {"backlog-add",
       loadgen::RunBacklogAdd,
       {"addr", "tasks", "batch", "connections", "min-delay-ms", "spread-ms", "topic"},
       "--addr HOST:PORT --tasks N [--batch 1000] [--connections 64] [--min-delay-ms 3600000]\n"
       "  [--spread-ms 14400000] [--topic T]   (v1 batches due hours ahead)"},
      {"topics-add",
       loadgen::RunTopicsAdd,
       {"addr", "topics", "url", "lead-ms", "spread-ms", "connections", "prefix", "one-topic",
        "ids-out"},
       "--addr HOST:PORT --topics N --url URL [--lead-ms 10000] [--spread-ms 2000]\n"
       "  [--connections 64] [--prefix P] [--one-topic NAME] [--ids-out FILE]"},
      {"beanstalk",
       loadgen::RunBeanstalk,
       {"addr", "connections", "duration-s", "delay-s", "max-jobs"},
       "--addr HOST:PORT --connections N --duration-s S [--delay-s 1] [--max-jobs 0]\n"
       "  (beanstalkd put, then reserve + delete)"},
  };
  return scenarios;
}

void PrintUsage() {
  std::fputs("usage: delayq_loadgen SCENARIO OPTIONS...\n", stderr);
  for (const Scenario& scenario : Scenarios()) {
    std::fprintf(stderr, "\n  %.*s ", static_cast<int>(scenario.name.size()), scenario.name.data());
    for (char c : scenario.usage) {
      if (c == '\n') {
        std::fputs("\n    ", stderr);
      } else {
        std::fputc(c, stderr);
      }
    }
    std::fputc('\n', stderr);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string_view command = argc >= 2 ? argv[1] : "";
  for (const Scenario& scenario : Scenarios()) {
    if (scenario.name != command) continue;
    try {
      return scenario.run(Options(argc, argv, scenario.options));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "delayq_loadgen %s: %s\n", argv[1], e.what());
      return 2;
    }
  }
  PrintUsage();
  return 2;
}
