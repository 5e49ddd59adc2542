#include "http/session.h"

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/version.hpp>

namespace delayq::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

// Writing an answer must not take longer than this (a client that stops reading).
constexpr std::chrono::seconds kWriteTimeout{30};
// Bounds on reading what a client still sends after we decided to close (LingerClose).
constexpr std::chrono::seconds kLingerTimeout{2};
constexpr size_t kLingerMaxBytes = 64 << 20;

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (beast::iequals(key, name)) return value;
  }
  return {};
}

std::string_view Request::Path() const {
  std::string_view path(target);
  return path.substr(0, path.find('?'));
}

Session::Session(asio::ip::tcp::socket socket, SessionContext& context)
    : stream_(std::move(socket)), context_(context) {
  context_.connections.fetch_add(1, std::memory_order_relaxed);
  beast::error_code ec;
  auto peer = stream_.socket().remote_endpoint(ec);
  if (!ec) remote_ = peer.address().to_string() + ":" + std::to_string(peer.port());
}

Session::~Session() { context_.connections.fetch_sub(1, std::memory_order_relaxed); }

void Session::Start() {
  // Start on the connection's own executor (the acceptor ran on another thread).
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
}

void Session::Reject(int status, std::string_view message) {
  asio::dispatch(stream_.get_executor(),
                 [self = shared_from_this(), status, text = std::string(message)] {
                   self->Write(self->context_.handler.ErrorResponse(status, text), true);
                 });
}

void Session::ReadHeader() {
  head_ = false;
  parser_.emplace();
  parser_->body_limit(context_.config.max_body_bytes);
  parser_->header_limit(static_cast<uint32_t>(context_.config.max_header_bytes));
  stream_.expires_after(context_.config.idle_timeout);
  bhttp::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

void Session::OnHeader(beast::error_code ec) {
  if (ec) return FailAndClose(ec);
  auto& request = parser_->get();
  // RFC 9112 §6.3: a Transfer-Encoding other than chunked leaves the body length unknown;
  // guessing would let the body be read as a second request (request smuggling). Beast
  // only decodes "chunked", so anything else is refused and the connection closed.
  if (auto coding = request[bhttp::field::transfer_encoding]; !coding.empty()) {
    if (!beast::iequals(coding, "chunked")) {
      return Write(context_.handler.ErrorResponse(400, "unsupported Transfer-Encoding '" +
                                                           std::string(coding.substr(0, 64)) +
                                                           "': only chunked is accepted"),
                   true);
    }
    if (request.count(bhttp::field::content_length) > 0) {
      return Write(context_.handler.ErrorResponse(
                       400, "request has both Transfer-Encoding and Content-Length"),
                   true);
    }
  }
  if (beast::iequals(request[bhttp::field::expect], "100-continue")) {
    // curl sends this for bodies over 1 KiB and waits for it before sending the body.
    auto interim = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                        request.version());
    bhttp::async_write(stream_, *interim,
                       [self = shared_from_this(), interim](beast::error_code ec, size_t) {
                         if (ec) return self->Close();
                         self->ReadBody();
                       });
    return;
  }
  ReadBody();
}

void Session::ReadBody() {
  bhttp::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
}

void Session::OnBody(beast::error_code ec) {
  if (ec) return FailAndClose(ec);
  Dispatch();
}

void Session::FailAndClose(beast::error_code ec) {
  if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
    return Close();
  }
  if (ec == bhttp::error::body_limit) {
    return Write(context_.handler.ErrorResponse(
                     413, "request body is larger than the limit of " +
                              std::to_string(context_.config.max_body_bytes) + " bytes"),
                 true);
  }
  if (ec == bhttp::error::header_limit) {
    return Write(context_.handler.ErrorResponse(
                     431, "request headers are larger than the limit of " +
                              std::to_string(context_.config.max_header_bytes) + " bytes"),
                 true);
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
    return Write(context_.handler.ErrorResponse(400, "malformed HTTP request: " + ec.message()),
                 true);
  }
  Close();
}

void Session::Dispatch() {
  bhttp::request<bhttp::string_body> parsed = parser_->release();
  keep_alive_ = parsed.keep_alive();
  version_ = parsed.version();
  // HEAD is answered like GET without the body (RFC 9110 §9.3.2).
  head_ = parsed.method() == bhttp::verb::head;

  Request request;
  request.method = head_ ? "GET" : std::string(parsed.method_string());
  request.target = std::string(parsed.target());
  request.body = std::move(parsed.body());
  request.remote = remote_;
  request.headers.reserve(8);
  for (const auto& field : parsed) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }

  handler_owes_answer_ = true;
  context_.in_flight.fetch_add(1, std::memory_order_relaxed);
  stream_.expires_never();  // the handler may wait for storage; write sets its own deadline
  context_.handler.Handle(std::move(request), [self = shared_from_this()](Response response) {
    asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
      self->Write(std::move(response), false);
    });
  });
}

void Session::Write(Response response, bool close) {
  bool counted = handler_owes_answer_;
  handler_owes_answer_ = false;
  response_ = {};
  response_.version(version_);
  response_.result(static_cast<unsigned>(response.status));
  response_.set(bhttp::field::server, "delayq");
  response_.set(bhttp::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) response_.set(name, value);
  response_.keep_alive(keep_alive_ && !close && !context_.stopping.load(std::memory_order_relaxed));
  if (head_) {
    response_.content_length(response.body.size());  // the length GET would have sent
  } else {
    response_.body() = std::move(response.body);
    response_.prepare_payload();
  }
  stream_.expires_after(kWriteTimeout);
  bhttp::async_write(stream_, response_,
                     [self = shared_from_this(), counted](beast::error_code ec, size_t) {
                       self->OnWrite(ec, counted);
                     });
}

void Session::OnWrite(beast::error_code ec, bool counted) {
  if (counted) context_.in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (ec) return Close();
  if (!response_.keep_alive()) return LingerClose();
  ReadHeader();
}

void Session::Close() {
  beast::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream_.socket().close(ignored);
}

// Closing a socket with unread input makes the kernel send RST, which can destroy the
// answer we just wrote (e.g. a 413 before the client finished sending its body). So send
// FIN, then read and discard what is still coming, for a bounded time and size.
void Session::LingerClose() {
  beast::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream_.expires_after(kLingerTimeout);
  Drain(0);
}

void Session::Drain(size_t discarded) {
  if (discarded > kLingerMaxBytes) return Close();
  auto scratch = std::make_shared<std::array<char, 16384>>();
  stream_.async_read_some(asio::buffer(*scratch), [self = shared_from_this(), scratch, discarded](
                                                      beast::error_code ec, size_t n) {
    if (ec) return self->Close();
    self->Drain(discarded + n);
  });
}

}  // namespace delayq::http
