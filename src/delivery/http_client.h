#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/defaults.h"

namespace delayq::delivery {

struct HttpCall {
  std::string method;
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int64_t timeout_ms = defaults::kCallbackTimeoutMs;
};

struct HttpOutcome {
  int status = 0;           // 0: no answer
  std::string error;        // transport error (timeout, refused, TLS); empty when an answer came
  std::string body_prefix;  // first bytes of the answer, for last_error
};

// An asynchronous HTTP/1.1 client on libcurl's multi interface, run by one thread:
// connections are pooled and kept alive per host, at most `max_per_host` are open to one
// host (further calls wait in libcurl's queue), https works through OpenSSL, each call has
// its own timeout. libcurl rather than Beast: pooling, TLS and timeouts are what it does,
// well tested, in one library (docs/ARCHITECTURE.md).
class HttpClient {
 public:
  using Done = std::function<void(HttpOutcome)>;

  HttpClient(size_t max_per_host, size_t max_connections);
  ~HttpClient();

  void Start();
  // Calls in flight are abandoned; their callbacks run with an error.
  void Stop();

  // Any thread. `done` runs on the client thread and must not block.
  void Send(HttpCall call, Done done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace delayq::delivery
