#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace loadgen {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// One keep-alive connection with at most one request in flight (closed loop), speaking just
// enough HTTP/1.1 (keep-alive, Content-Length bodies) for delayq and the nginx reference;
// Boost.Beast would do it more generally but doubles the compile time. Reconnects lazily, so a
// server that closes a connection costs one error, not the rest of the run.
class HttpConnection {
 public:
  HttpConnection(boost::asio::any_io_executor executor, boost::asio::ip::tcp::endpoint endpoint)
      : socket_(executor), endpoint_(endpoint) {}

  // Throws boost::system::system_error or std::runtime_error; the connection is then closed
  // and the next call reconnects.
  boost::asio::awaitable<HttpResponse> RoundTrip(std::string_view request);

  // HTTP/1.1 pipelining: `requests` holds `count` whole requests, sent in one write; their
  // responses are read in order. Used for the acks of one pull, which need no round trip each.
  boost::asio::awaitable<std::vector<HttpResponse>> Pipeline(std::string_view requests,
                                                             size_t count);

 private:
  boost::asio::awaitable<void> ConnectIfClosed();
  boost::asio::awaitable<HttpResponse> ReadResponse();

  boost::asio::ip::tcp::socket socket_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::string buffer_;  // bytes read but not yet consumed
};

std::string PostRequest(std::string_view path, std::string_view host, std::string_view body);

// Boost's system_error what() appends a source location that buries the actual reason.
std::string Describe(const std::exception& error);

}  // namespace loadgen
