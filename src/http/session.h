#pragma once

// Internal to http/: includes Beast.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>

#include "http/handler.h"
#include "http/server.h"

namespace delayq::http {

// A connection's socket and stream run on its io_context's own executor type rather than
// the type-erased any_io_executor: copying and destroying that wrapper in every composed
// operation cost ~5 % of the server's CPU per small request (perf).
using SessionExecutor = boost::asio::io_context::executor_type;
using SessionSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, SessionExecutor>;
using SessionStream = boost::beast::basic_stream<boost::asio::ip::tcp, SessionExecutor>;

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
//
// HTTP/1.1 pipelining: when a client has already sent (part of) its next request while the
// previous one is with the handler, that request is read and handed over too, up to
// kMaxPipelined outstanding; answers are written in request order. So the 100 acks a
// consumer pipelines after a pull reach the store worker together and are recorded in one
// round, instead of one round trip each (BENCHMARKS.md, firing). A client that waits for
// each answer sees no difference: nothing is read ahead unless bytes are already there.
// State-changing requests go to the engine in order (its store worker runs them in
// order, except that a round records adds, then acks/nacks, then other operations); a
// GET or HEAD waits until the requests before it are answered.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(SessionSocket socket, SessionContext& context);
  ~Session();

  void Start();
  // Answers the first request with `status` and closes: used for connections over the
  // limit.
  void Reject(int status, std::string_view message);

 private:
  // A request read, in order, and its answer once it has come.
  struct Pending {
    uint64_t seq = 0;
    bool head = false;       // a HEAD request: the answer goes without its body
    bool keep_alive = true;  // what the request asked for
    unsigned version = 11;
    bool counted = false;  // handed to the handler: counted in context_.in_flight
    bool close = false;    // close the connection after this answer
    std::optional<Response> response;
  };

  void ReadHeader();
  void OnHeader(boost::beast::error_code ec);
  void ReadBody();
  void OnBody(boost::beast::error_code ec);
  void Dispatch();
  void HandOver(uint64_t seq, Request request);
  void MaybeRead();
  // Queues an answer made by the transport (an error) and closes after it.
  void AnswerAndClose(Response response);
  void OnAnswer(uint64_t seq, Response response);
  void MaybeWrite();
  void OnWrite(boost::beast::error_code ec);
  void DropPending();
  void FailRead(boost::beast::error_code ec);
  void Close();
  void LingerClose();
  void Drain(size_t discarded);

  SessionStream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::string out_;  // the answer being written
  bool close_after_write_ = false;
  SessionContext& context_;
  std::deque<Pending> pending_;  // oldest first; seq is contiguous
  // A pipelined GET/HEAD read while earlier requests are unanswered waits here, so that it
  // sees their effects (RFC 9112 §9.3.2 allows parallel processing of safe requests only).
  std::optional<Request> held_;
  uint64_t held_seq_ = 0;
  uint64_t next_seq_ = 0;
  unsigned version_ = 11;  // of the last request read, for the transport's own errors
  bool reading_ = false;   // a read of a request is in progress
  bool writing_ = false;   // an answer is being written
  bool closing_ = false;   // nothing more is read; close once the pending answers are out
  std::string remote_;     // the peer's "IP:PORT", read once per connection (for logs)
  std::optional<Response> rejection_;  // set by Reject: the answer to the first request
};

}  // namespace delayq::http
