#include "http/session.h"

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
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
// How long a connection over the limit may take to send its first request before it is
// answered anyway (see Reject).
constexpr std::chrono::seconds kRejectReadTimeout{2};
// Pipelined requests of one connection handed to the handler and not yet answered; more
// wait in the socket. Bounds what one connection can queue (a v1 pull answers at most
// 1,000 tasks, whose acks a consumer may pipeline; 128 keeps most of a round together).
constexpr size_t kMaxPipelined = 128;

namespace {

// Our answers are a status line, a handful of fields and a body of known length, so they
// are written as one string rather than through Beast's serializer, whose buffer-sequence
// walk and per-field allocations cost ~6 % of the server's CPU per small answer (perf,
// BENCHMARKS.md "Distributed mode on Redis"). Field values come from our own code (a
// client's X-Request-Id is checked before it is echoed), never raw from a request.
void SerializeResponse(const Response& response, unsigned version, bool head, bool last,
                       std::string* out) {
  out->clear();
  auto status = static_cast<bhttp::status>(response.status);
  out->append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out->append(std::to_string(response.status));
  out->push_back(' ');
  std::string_view reason = bhttp::obsolete_reason(status);
  out->append(reason.data(), reason.size());
  out->append("\r\nServer: delayq\r\nContent-Type: ");
  out->append(response.content_type);
  out->append("\r\n");
  for (const auto& [name, value] : response.headers) {
    out->append(name);
    out->append(": ");
    out->append(value);
    out->append("\r\n");
  }
  // HTTP/1.1 is persistent unless closed; HTTP/1.0 only if it says keep-alive.
  if (version == 10 && !last) out->append("Connection: keep-alive\r\n");
  if (version != 10 && last) out->append("Connection: close\r\n");
  // 1xx, 204 and 304 answers carry no body and no length (RFC 9110 §8.6).
  bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;
  if (!bodiless) {
    out->append("Content-Length: ");  // for HEAD: the length GET would have sent
    out->append(std::to_string(response.body.size()));
    out->append("\r\n");
  }
  out->append("\r\n");
  if (!head && !bodiless) out->append(response.body);
}

}  // namespace

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

Session::Session(SessionSocket socket, SessionContext& context)
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

// The refusal answers the connection's first request rather than being written as soon as
// the connection is accepted: an HTTP client treats bytes that arrive before it has sent a
// request as an unsolicited response on an idle connection and fails the request it then
// sends with a transport error instead of the 503 (Go's net/http does), so it could never
// retry it as overloaded. A client that sends nothing is answered after kRejectReadTimeout.
void Session::Reject(int status, std::string_view message) {
  asio::dispatch(stream_.get_executor(),
                 [self = shared_from_this(), status, text = std::string(message)] {
                   self->rejection_ = self->context_.handler.ErrorResponse(status, text);
                   self->ReadHeader();
                 });
}

void Session::ReadHeader() {
  reading_ = true;
  parser_.emplace();
  parser_->body_limit(context_.config.max_body_bytes);
  parser_->header_limit(static_cast<uint32_t>(context_.config.max_header_bytes));
  // Sets only the read deadline when an answer is being written (basic_stream keeps one
  // timer per direction and leaves a pending operation's alone).
  stream_.expires_after(rejection_ ? kRejectReadTimeout : context_.config.idle_timeout);
  bhttp::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

void Session::OnHeader(beast::error_code ec) {
  if (rejection_) {
    bool gone = ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
                ec == asio::error::connection_reset || ec == asio::error::operation_aborted;
    if (gone) return Close();
    if (!ec) version_ = parser_->get().version();
    Response refusal = std::move(*rejection_);
    rejection_.reset();
    return AnswerAndClose(std::move(refusal));
  }
  if (ec) return FailRead(ec);
  auto& request = parser_->get();
  version_ = request.version();
  // RFC 9112 §6.3: a Transfer-Encoding other than chunked leaves the body length unknown;
  // guessing would let the body be read as a second request (request smuggling). Beast
  // only decodes "chunked", so anything else is refused and the connection closed.
  if (auto coding = request[bhttp::field::transfer_encoding]; !coding.empty()) {
    if (!beast::iequals(coding, "chunked")) {
      return AnswerAndClose(context_.handler.ErrorResponse(
          400, "unsupported Transfer-Encoding '" + std::string(coding.substr(0, 64)) +
                   "': only chunked is accepted"));
    }
    if (request.count(bhttp::field::content_length) > 0) {
      return AnswerAndClose(context_.handler.ErrorResponse(
          400, "request has both Transfer-Encoding and Content-Length"));
    }
  }
  // curl sends this for bodies over 1 KiB and waits for it before sending the body. Only
  // when no answer is owed: the interim answer must not overtake (or interleave with) one.
  // Otherwise the client sends the body after its own short wait (RFC 9110 §10.1.1).
  if (beast::iequals(request[bhttp::field::expect], "100-continue") && pending_.empty() &&
      !writing_) {
    auto interim = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                        request.version());
    writing_ = true;
    bhttp::async_write(stream_, *interim,
                       [self = shared_from_this(), interim](beast::error_code ec, size_t) {
                         self->writing_ = false;
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
  if (ec) return FailRead(ec);
  Dispatch();
}

void Session::FailRead(beast::error_code ec) {
  reading_ = false;
  if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
    // Answers still owed for pipelined requests go out first (a client may half-close
    // after sending its last request).
    closing_ = true;
    if (pending_.empty() && !writing_) Close();
    return;
  }
  if (ec == bhttp::error::body_limit) {
    return AnswerAndClose(context_.handler.ErrorResponse(
        413, "request body is larger than the limit of " +
                 std::to_string(context_.config.max_body_bytes) + " bytes"));
  }
  if (ec == bhttp::error::header_limit) {
    return AnswerAndClose(context_.handler.ErrorResponse(
        431, "request headers are larger than the limit of " +
                 std::to_string(context_.config.max_header_bytes) + " bytes"));
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category()) {
    return AnswerAndClose(
        context_.handler.ErrorResponse(400, "malformed HTTP request: " + ec.message()));
  }
  closing_ = true;
  if (pending_.empty() && !writing_) Close();
}

void Session::Dispatch() {
  reading_ = false;
  bhttp::request<bhttp::string_body> parsed = parser_->release();
  Pending slot;
  slot.seq = next_seq_++;
  slot.keep_alive = parsed.keep_alive();
  slot.version = parsed.version();
  // HEAD is answered like GET without the body (RFC 9110 §9.3.2).
  slot.head = parsed.method() == bhttp::verb::head;
  slot.counted = true;

  Request request;
  request.method = slot.head ? "GET" : std::string(parsed.method_string());
  request.target = std::string(parsed.target());
  request.body = std::move(parsed.body());
  request.remote = remote_;
  request.headers.reserve(8);
  for (const auto& field : parsed) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }

  uint64_t seq = slot.seq;
  bool safe = slot.head || parsed.method() == bhttp::verb::get;
  bool earlier_unanswered = false;
  for (const Pending& earlier : pending_)
    earlier_unanswered |= earlier.counted && !earlier.response;
  pending_.push_back(std::move(slot));
  context_.in_flight.fetch_add(1, std::memory_order_relaxed);
  stream_.expires_never();  // the handler may wait for storage; write sets its own deadline
  if (safe && earlier_unanswered) {
    held_ = std::move(request);
    held_seq_ = seq;
    return;  // nothing more is read until it is handed over
  }
  HandOver(seq, std::move(request));
  MaybeRead();
}

void Session::HandOver(uint64_t seq, Request request) {
  context_.handler.Handle(std::move(request), [self = shared_from_this(), seq](Response response) {
    asio::post(self->stream_.get_executor(), [self, seq, response = std::move(response)]() mutable {
      self->OnAnswer(seq, std::move(response));
    });
  });
}

// The next request is read when no answer is owed (plain keep-alive), or, while answers
// are owed, only if the client has already sent bytes of it (pipelining) and fewer than
// kMaxPipelined requests are outstanding: a client waiting for its answer is never read
// from early, so its idle deadline starts after the answer as before.
void Session::MaybeRead() {
  if (reading_ || closing_ || held_) return;
  if (pending_.empty()) {
    if (!writing_) ReadHeader();
    return;
  }
  if (pending_.back().keep_alive && buffer_.size() > 0 && pending_.size() < kMaxPipelined &&
      !context_.stopping.load(std::memory_order_relaxed)) {
    ReadHeader();
  }
}

void Session::AnswerAndClose(Response response) {
  reading_ = false;
  closing_ = true;
  Pending slot;
  slot.seq = next_seq_++;
  slot.version = version_;
  slot.close = true;
  slot.response = std::move(response);
  pending_.push_back(std::move(slot));
  MaybeWrite();
}

void Session::OnAnswer(uint64_t seq, Response response) {
  // Dropped (the connection failed or closed early): nobody to answer.
  if (pending_.empty() || seq < pending_.front().seq) return;
  if (response.finish) {
    auto finish = std::move(response.finish);
    response.finish = nullptr;
    finish(response);
  }
  pending_[seq - pending_.front().seq].response = std::move(response);
  if (held_) {
    // Every request before the held one answered: hand it over now.
    bool earlier_answered = true;
    for (const Pending& slot : pending_) {
      if (slot.seq >= held_seq_) break;
      if (!slot.response && slot.counted) earlier_answered = false;
    }
    if (earlier_answered) {
      Request request = std::move(*held_);
      held_.reset();
      HandOver(held_seq_, std::move(request));
      MaybeRead();
    }
  }
  MaybeWrite();
}

void Session::MaybeWrite() {
  if (writing_ || pending_.empty() || !pending_.front().response) return;
  Pending& slot = pending_.front();
  Response response = std::move(*slot.response);
  // While stopping, the last answer owed closes the connection (none is being read).
  bool last =
      slot.close || !slot.keep_alive ||
      (context_.stopping.load(std::memory_order_relaxed) && pending_.size() == 1 && !reading_);
  close_after_write_ = last;
  SerializeResponse(response, slot.version, slot.head, last, &out_);
  writing_ = true;
  stream_.expires_after(kWriteTimeout);
  asio::async_write(
      stream_, asio::buffer(out_),
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
}

void Session::OnWrite(beast::error_code ec) {
  writing_ = false;
  if (pending_.front().counted) context_.in_flight.fetch_sub(1, std::memory_order_relaxed);
  pending_.pop_front();
  if (ec) {
    DropPending();
    return Close();
  }
  if (close_after_write_) {
    DropPending();
    return LingerClose();
  }
  if (!pending_.empty()) {
    MaybeWrite();
    MaybeRead();
    return;
  }
  if (closing_) return Close();
  MaybeRead();
}

// The connection ends with answers still owed: they will never be written, so they no
// longer count as in flight (the graceful stop waits for that count).
void Session::DropPending() {
  for (const Pending& slot : pending_) {
    if (slot.counted) context_.in_flight.fetch_sub(1, std::memory_order_relaxed);
  }
  pending_.clear();
  held_.reset();
  closing_ = true;
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
