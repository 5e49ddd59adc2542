#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace delayq::cli {

// One HTTP answer of the server.
struct Reply {
  int status = 0;
  std::string body;
  std::string request_id;  // the X-Request-Id the server answered with ("" if none)
};

// A blocking HTTP/1.1 client of one delayq server (libcurl easy handle, one connection
// kept alive between calls). Not thread-safe; the CLI makes its calls one after another.
class Client {
 public:
  // `server` is a base URL ("http://127.0.0.1:7700"); `token` "" sends no Authorization.
  Client(std::string server, std::string token);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends a request; `timeout` bounds the whole call. An error (Errc::kUnavailable) means
  // no HTTP answer came: connection refused, DNS, timeout. Any status is a Reply.
  Result<Reply> Send(std::string_view method, std::string_view path, std::string_view body,
                     std::chrono::milliseconds timeout);

  const std::string& server() const { return server_; }

 private:
  std::string server_;
  std::string token_;
  void* curl_ = nullptr;  // CURL*, kept out of the header
};

}  // namespace delayq::cli
