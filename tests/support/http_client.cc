#include "support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "support/test_util.h"

namespace delayq::testing {

HttpClient::HttpClient(std::string address, std::chrono::milliseconds timeout) : timeout_(timeout) {
  size_t colon = address.rfind(':');
  host_ = address.substr(0, colon);
  port_ = static_cast<uint16_t>(std::stoi(address.substr(colon + 1)));
}

HttpClient::~HttpClient() { Close(); }

void HttpClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

bool HttpClient::Connect() {
  Close();
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return false;
  timeval tv{};
  tv.tv_sec = timeout_.count() / 1000;
  tv.tv_usec = (timeout_.count() % 1000) * 1000;
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  inet_pton(AF_INET, host_.c_str(), &addr.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    Close();
    return false;
  }
  return true;
}

bool HttpClient::SendRaw(std::string_view bytes) {
  if (fd_ < 0 && !Connect()) return false;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool HttpClient::ReadMore() {
  char chunk[65536];
  for (;;) {
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;  // closed, reset or timed out
  }
}

HttpResponse HttpClient::ReadResponse() {
  HttpResponse response;
  if (fd_ < 0) return response;
  size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!ReadMore()) return response;
  }
  std::string head = buffer_.substr(0, header_end);
  buffer_.erase(0, header_end + 4);
  std::string status_line = ParseHeaderBlock(head, &response.headers);
  size_t space = status_line.find(' ');
  if (space == std::string::npos) return response;
  int status = std::atoi(status_line.c_str() + space + 1);
  if (status == 100) return ReadResponse();  // interim answer to Expect: 100-continue
  size_t length = 0;
  if (auto it = response.headers.find("content-length"); it != response.headers.end()) {
    length = std::stoul(it->second);
  }
  while (buffer_.size() < length) {
    if (!ReadMore()) return response;
  }
  response.body = buffer_.substr(0, length);
  buffer_.erase(0, length);
  response.status = status;
  if (auto it = response.headers.find("connection");
      it != response.headers.end() && it->second == "close") {
    Close();
  }
  return response;
}

bool HttpClient::WaitClosed() {
  if (fd_ < 0) return true;
  char c;
  for (;;) {
    ssize_t n = ::recv(fd_, &c, 1, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      Close();
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;  // timed out while still open
  }
}

HttpResponse HttpClient::Request(std::string_view method, std::string_view target,
                                 std::string_view body,
                                 const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string request;
  request.reserve(256 + body.size());
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  request.append("Host: ").append(host_).append("\r\n");
  bool has_type = false;
  for (const auto& [name, value] : headers) {
    request.append(name).append(": ").append(value).append("\r\n");
    if (strcasecmp(name.c_str(), "content-type") == 0) has_type = true;
  }
  if (!body.empty() && !has_type) request.append("Content-Type: application/json\r\n");
  if (method != "GET" || !body.empty()) {
    request.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  request.append("\r\n").append(body);
  // A kept-alive connection may have been closed by the server (idle timeout): retry once
  // on a fresh connection if nothing came back.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool fresh = fd_ < 0;
    if (fd_ < 0 && !Connect()) return {};
    if (SendRaw(request)) {
      HttpResponse response = ReadResponse();
      if (response.ok()) return response;
    }
    Close();
    if (fresh) break;
  }
  return {};
}

}  // namespace delayq::testing
