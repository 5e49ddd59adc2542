#include "support/callback_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "support/test_util.h"

namespace delayq::testing {
CallbackReceiver::CallbackReceiver() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 512) != 0) {
    throw std::runtime_error("receiver cannot listen");
  }
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

CallbackReceiver::~CallbackReceiver() {
  stopping_ = true;
  changed_.notify_all();
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  acceptor_.join();
  {
    std::lock_guard lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : connections_) t.join();
  for (int fd : fds_) ::close(fd);  // closed only now, so that no number is reused early
}

void CallbackReceiver::SetStatuses(const std::string& path, std::vector<int> statuses) {
  std::lock_guard lock(mu_);
  statuses_[path] = std::move(statuses);
  answered_[path] = 0;
  cycle_[path] = false;
}

void CallbackReceiver::SetHang(const std::string& path, bool hang) {
  {
    std::lock_guard lock(mu_);
    hang_[path] = hang;
  }
  changed_.notify_all();
}

void CallbackReceiver::SetStatusCycle(const std::string& path, std::vector<int> statuses) {
  std::lock_guard lock(mu_);
  statuses_[path] = std::move(statuses);
  answered_[path] = 0;
  cycle_[path] = true;
}

std::vector<ReceivedCall> CallbackReceiver::TakeAnswered() {
  std::lock_guard lock(mu_);
  std::vector<ReceivedCall> answered;
  std::vector<ReceivedCall> waiting;
  for (auto& call : calls_) (call.status != 0 ? answered : waiting).push_back(std::move(call));
  calls_.swap(waiting);
  return answered;
}

std::vector<ReceivedCall> CallbackReceiver::Calls(const std::string& path) const {
  std::lock_guard lock(mu_);
  std::vector<ReceivedCall> out;
  for (const auto& call : calls_) {
    if (call.path == path) out.push_back(call);
  }
  return out;
}

bool CallbackReceiver::WaitForCalls(const std::string& path, size_t count,
                                    std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] {
    return std::count_if(calls_.begin(), calls_.end(), [&](const ReceivedCall& c) {
             return c.path == path;
           }) >= static_cast<long>(count);
  });
}

int CallbackReceiver::NextStatus(const std::string& path) {
  auto it = statuses_.find(path);
  if (it == statuses_.end() || it->second.empty()) return 200;
  size_t n = answered_[path]++;
  if (cycle_[path]) return it->second[n % it->second.size()];
  return it->second[std::min(n, it->second.size() - 1)];
}

void CallbackReceiver::AcceptLoop() {
  while (!stopping_) {
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    if (stopping_) {
      ::close(fd);
      break;
    }
    fds_.push_back(fd);
    connections_.emplace_back([this, fd] { Serve(fd); });
  }
}

void CallbackReceiver::Serve(int fd) {
  std::string buffer;
  char chunk[65536];
  auto read_more = [&] {
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
    return true;
  };
  while (!stopping_) {
    size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more()) return;
    }
    ReceivedCall call;
    call.at_ms = WallClockMs();
    std::string head = buffer.substr(0, head_end);
    buffer.erase(0, head_end + 4);
    std::string request_line = ParseHeaderBlock(head, &call.headers);
    size_t sp1 = request_line.find(' ');
    size_t sp2 = request_line.find(' ', sp1 + 1);
    call.method = request_line.substr(0, sp1);
    call.path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t length = 0;
    if (auto it = call.headers.find("content-length"); it != call.headers.end()) {
      length = std::stoul(it->second);
    }
    while (buffer.size() < length) {
      if (!read_more()) return;
    }
    call.body = buffer.substr(0, length);
    buffer.erase(0, length);
    int status;
    {
      std::unique_lock lock(mu_);
      call.seq = next_seq_++;
      calls_.push_back(call);
      changed_.notify_all();
      // Hang: keep the request unanswered until released or shut down.
      changed_.wait(lock, [&] { return stopping_ || !hang_[call.path]; });
      if (stopping_) return;
      status = NextStatus(call.path);
      // Recent calls are at the back; TakeAnswered may have moved earlier ones out.
      for (auto it = calls_.rbegin(); it != calls_.rend(); ++it) {
        if (it->seq == call.seq) {
          it->status = status;
          break;
        }
      }
    }
    std::string body = status >= 200 && status < 300 ? "ok" : "busy";
    std::string response = "HTTP/1.1 " + std::to_string(status) +
                           " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                           body;
    if (::send(fd, response.data(), response.size(), MSG_NOSIGNAL) < 0) return;
  }
}

}  // namespace delayq::testing
