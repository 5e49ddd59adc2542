#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace delayq::testing {

struct ReceivedCall {
  int64_t at_ms = 0;  // wall clock when the request was read
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  int status = 0;    // the status answered; 0 while unanswered (hung)
  uint64_t seq = 0;  // arrival order
};

// A real HTTP/1.1 receiver on 127.0.0.1:0 for callback tests: records every request and
// answers per path with a scripted sequence of statuses (the last one repeats), or never
// answers ("hang") until told otherwise or destroyed. Keep-alive; a thread per connection.
class CallbackReceiver {
 public:
  CallbackReceiver();
  ~CallbackReceiver();
  CallbackReceiver(const CallbackReceiver&) = delete;
  CallbackReceiver& operator=(const CallbackReceiver&) = delete;

  uint16_t port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void SetStatuses(const std::string& path, std::vector<int> statuses);
  // Like SetStatuses, but the sequence starts again after its last status (e.g. {500, 200}
  // fails every other call to `path`).
  void SetStatusCycle(const std::string& path, std::vector<int> statuses);
  void SetHang(const std::string& path, bool hang);

  std::vector<ReceivedCall> Calls(const std::string& path) const;
  bool WaitForCalls(const std::string& path, size_t count, std::chrono::milliseconds timeout);
  // Removes the answered calls (every path) and returns them in arrival order, so that a
  // long run does not keep every call it received; unanswered ones stay.
  std::vector<ReceivedCall> TakeAnswered();

 private:
  void AcceptLoop();
  void Serve(int fd);
  int NextStatus(const std::string& path);

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::thread> connections_;
  std::vector<int> fds_;
  std::map<std::string, std::vector<int>> statuses_;
  std::map<std::string, size_t> answered_;
  std::map<std::string, bool> hang_;
  std::map<std::string, bool> cycle_;
  uint64_t next_seq_ = 0;
  std::vector<ReceivedCall> calls_;
};

}  // namespace delayq::testing
