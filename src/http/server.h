#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "http/handler.h"

namespace delayq::http {

struct ServerConfig {
  std::string listen = "127.0.0.1:7700";
  int io_threads = 2;
  size_t max_body_bytes = 8 << 20;
  size_t max_header_bytes = 16 << 10;
  // A connection with no complete request for this long is closed (keep-alive idle time,
  // and the bound on a slow sender).
  std::chrono::milliseconds idle_timeout{60'000};
  size_t max_connections = 10'000;
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
