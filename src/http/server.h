#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/defaults.h"
#include "common/result.h"
#include "http/handler.h"

namespace delayq::http {

struct ServerConfig {
  std::string listen = defaults::kListen;
  int io_threads = static_cast<int>(defaults::kIoThreads);
  size_t max_body_bytes = defaults::kMaxBodyBytes;
  size_t max_header_bytes = defaults::kMaxHeaderBytes;
  // A connection with no complete request for this long is closed (keep-alive idle time,
  // and the bound on a slow sender).
  std::chrono::milliseconds idle_timeout{defaults::kIdleTimeoutMs};
  size_t max_connections = defaults::kMaxConnections;
};

// Accepts on one socket and spreads connections over `io_threads` event loops (one
// io_context per thread, so a connection's handlers never race).
class Server {
 public:
  Server(ServerConfig config, Handler& handler);
  ~Server();

  // Binds and starts the I/O threads. Returns the bound address ("127.0.0.1:41234").
  Result<std::string> Start();

  // Stops accepting, waits up to `grace` for requests being handled to be answered,
  // then stops the I/O threads. Idle keep-alive connections are closed.
  void Shutdown(std::chrono::milliseconds grace);

  size_t active_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace delayq::http
