#include "http/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <thread>
#include <vector>

#include "http/listen_address.h"
#include "http/session.h"

namespace delayq::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Server::Impl {
  Impl(ServerConfig server_config, Handler& handler)
      : config(std::move(server_config)), context{config, handler} {
    int threads = std::max(1, config.io_threads);
    for (int i = 0; i < threads; ++i) {
      loops.push_back(std::make_unique<asio::io_context>(1));
      guards.emplace_back(asio::make_work_guard(*loops.back()));
    }
    acceptor.emplace(*loops[0]);
  }

  void Accept() {
    asio::io_context& target = *loops[next_loop++ % loops.size()];
    acceptor->async_accept(
        target.get_executor(), [this](boost::system::error_code ec, SessionSocket socket) {
          if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
          if (!ec) {
            boost::system::error_code ignored;
            socket.set_option(tcp::no_delay(true), ignored);
            auto session = std::make_shared<Session>(std::move(socket), context);
            if (context.connections.load(std::memory_order_relaxed) > config.max_connections) {
              session->Reject(503, "too many connections (limit " +
                                       std::to_string(config.max_connections) + "); retry later");
            } else {
              session->Start();
            }
          } else {
            // EMFILE and friends: keep accepting, but do not spin on a persistent error.
            spdlog::warn("msg=\"accept failed\" error=\"{}\"", ec.message());
          }
          Accept();
        });
  }

  ServerConfig config;
  SessionContext context;
  std::vector<std::unique_ptr<asio::io_context>> loops;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  size_t next_loop = 0;
  bool running = false;
};

Server::Server(ServerConfig config, Handler& handler)
    : impl_(std::make_unique<Impl>(std::move(config), handler)) {}

Server::~Server() { Shutdown(std::chrono::milliseconds(0)); }

Result<std::string> Server::Start() {
  auto address = ParseListenAddress(impl_->config.listen);
  if (!address) return std::unexpected(address.error());
  boost::system::error_code ec;
  tcp::resolver resolver(*impl_->loops[0]);
  auto results = resolver.resolve(address->host, std::to_string(address->port),
                                  tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return Fail(Errc::kInvalidArgument,
                "listen: cannot resolve host '" + address->host + "': " + ec.message());
  }
  tcp::endpoint endpoint = results.begin()->endpoint();
  auto& acceptor = *impl_->acceptor;
  auto fail = [&](std::string_view step) {
    return Fail(Errc::kUnavailable, "listen: cannot " + std::string(step) + " " +
                                        impl_->config.listen + ": " + ec.message());
  };
  if (acceptor.open(endpoint.protocol(), ec); ec) return fail("open");
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail("configure");
  if (acceptor.bind(endpoint, ec); ec) return fail("bind");
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen on");
  tcp::endpoint bound = acceptor.local_endpoint(ec);

  impl_->Accept();
  for (auto& loop : impl_->loops) {
    impl_->threads.emplace_back([&io = *loop] { io.run(); });
  }
  impl_->running = true;
  std::string host = bound.address().to_string();
  if (bound.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(bound.port());
}

void Server::Shutdown(std::chrono::milliseconds grace) {
  if (!impl_->running) return;
  impl_->running = false;
  impl_->context.stopping.store(true);
  asio::post(*impl_->loops[0], [this] {
    boost::system::error_code ignored;
    impl_->acceptor->close(ignored);
  });
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->context.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (size_t left = impl_->context.in_flight.load(); left > 0) {
    spdlog::warn("msg=\"shutdown grace expired\" unanswered_requests={}", left);
  }
  for (auto& loop : impl_->loops) loop->stop();
  for (auto& thread : impl_->threads) thread.join();
  impl_->threads.clear();
}

size_t Server::active_connections() const { return impl_->context.connections.load(); }

}  // namespace delayq::http
