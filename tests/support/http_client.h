#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace delayq::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  bool ok() const { return status != 0; }
};

// A blocking HTTP/1.1 client on one keep-alive connection, written on plain sockets so
// that tests can also send malformed or partial bytes. Not thread-safe: one per thread.
class HttpClient {
 public:
  // `address` is "127.0.0.1:PORT".
  explicit HttpClient(std::string address,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends a request (reconnecting if needed) and reads the response. status 0 means the
  // connection failed or closed without an answer.
  HttpResponse Request(std::string_view method, std::string_view target, std::string_view body = {},
                       const std::vector<std::pair<std::string, std::string>>& headers = {});
  HttpResponse Post(std::string_view target, std::string_view body) {
    return Request("POST", target, body);
  }
  HttpResponse Get(std::string_view target) { return Request("GET", target); }

  // Raw access for bad-input tests.
  bool Connect();
  bool SendRaw(std::string_view bytes);
  HttpResponse ReadResponse();
  // True if the server closed the connection (read returns 0) within the timeout.
  bool WaitClosed();
  void Close();

 private:
  bool ReadMore();

  std::string host_;
  uint16_t port_ = 0;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace delayq::testing
