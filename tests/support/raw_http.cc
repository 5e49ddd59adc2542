#include "support/raw_http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

namespace delayq::testing {

std::string RequestHead(const std::string& method, const std::string& target) {
  return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
}

std::string RequestWithJsonBody(const std::string& method, const std::string& target,
                                const std::string& body) {
  return RequestHead(method, target) +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

int ConnectTo(const std::string& address) {
  size_t colon = address.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string ExchangeUntilClosed(const std::string& address, const std::string& bytes) {
  int fd = ConnectTo(address);
  if (fd < 0) return {};
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string received;
  if (::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    char chunk[4096];
    ssize_t n;
    while ((n = ::recv(fd, chunk, sizeof(chunk), 0)) > 0) received.append(chunk, n);
  }
  ::close(fd);
  return received;
}

bool ProcessAlive(pid_t pid) {
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  return info.si_pid == 0;
}

void ExpectTransportError(const HttpResponse& response, int status, const std::string& mentions) {
  ASSERT_TRUE(response.ok()) << "no answer";
  EXPECT_EQ(response.status, status) << response.body;
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(response.body, ec);
  ASSERT_FALSE(ec) << response.body;
  ASSERT_TRUE(parsed.is_object()) << response.body;
  EXPECT_EQ(parsed.at("dm_error").to_number<int64_t>(), 1) << response.body;
  std::string message(parsed.at("error_msg").as_string());
  EXPECT_NE(message.find(mentions), std::string::npos) << message;
}

}  // namespace delayq::testing
