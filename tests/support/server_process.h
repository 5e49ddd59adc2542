#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace delayq::testing {

// The real delayq binary (path compiled in as DELAYQ_BINARY), started as
// `delayq serve --listen 127.0.0.1:0 --data-dir DIR <extra args>`. Start() waits for the
// "listening on" line and knows the port. The destructor SIGKILLs a process still running.
class ServerProcess {
 public:
  ServerProcess(std::string data_dir, std::vector<std::string> extra_args = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Sets `name` in the server's environment at the next Start (an empty value unsets it),
  // e.g. LD_PRELOAD of a fault library.
  void SetEnv(std::string name, std::string value);

  // Runs `path` instead of the delayq binary at the next Start (a build of the same server,
  // e.g. on another allocator).
  void SetBinary(std::string path) { binary_ = std::move(path); }

  // False (with the server's stderr in last_error()) if it did not come up in `timeout`.
  bool Start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  const std::string& address() const { return address_; }  // "127.0.0.1:PORT"
  pid_t pid() const { return pid_; }

  void Kill();  // SIGKILL and reap
  // SIGTERM, then wait; returns the exit status (or -1 on timeout / death by signal).
  int Terminate(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  bool running() const { return pid_ > 0; }

  // What the server wrote to stderr (its log), for failure messages.
  std::string Log() const;
  const std::string& last_error() const { return last_error_; }

  static std::string BinaryPath();

 private:
  std::string data_dir_;
  std::string binary_;
  std::vector<std::string> extra_args_;
  std::vector<std::pair<std::string, std::string>> env_;
  std::string log_path_;
  std::string address_;
  std::string last_error_;
  pid_t pid_ = -1;
};

// Polls `condition` every few milliseconds until it holds or `timeout` passes.
template <class Condition>
bool WaitFor(Condition condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    struct timespec ts {
      0, 5'000'000
    };
    nanosleep(&ts, nullptr);
  }
  return condition();
}

}  // namespace delayq::testing
