#pragma once

// Internal to http/: includes Beast.

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>

#include "http/handler.h"
#include "http/server.h"

namespace delayq::http {

// State shared by the acceptor and every session.
struct SessionContext {
  const ServerConfig& config;
  Handler& handler;
  std::atomic<size_t> connections{0};
  std::atomic<size_t> in_flight{0};  // requests handed to the handler, not yet answered
  std::atomic<bool> stopping{false};
};

// One connection: read a request, hand it to the handler, write the answer, repeat while
// keep-alive. Runs on one io_context thread; the handler may answer from any thread (the
// answer is posted back).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(boost::asio::ip::tcp::socket socket, SessionContext& context);
  ~Session();

  void Start();
  // Answers with `status` and closes: used for connections over the limit.
  void Reject(int status, std::string_view message);

 private:
  void ReadHeader();
  void OnHeader(boost::beast::error_code ec);
  void ReadBody();
  void OnBody(boost::beast::error_code ec);
  void Dispatch();
  void Write(Response response, bool close);
  void OnWrite(boost::beast::error_code ec, bool counted);
  void FailAndClose(boost::beast::error_code ec);
  void Close();
  void LingerClose();
  void Drain(size_t discarded);

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
  SessionContext& context_;
  std::string remote_;  // the peer's "IP:PORT", read once per connection (for logs)
  bool keep_alive_ = true;
  unsigned version_ = 11;
  bool handler_owes_answer_ = false;
  bool head_ = false;  // the request being answered is a HEAD
};

}  // namespace delayq::http
