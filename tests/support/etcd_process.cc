#include "support/etcd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "support/http_client.h"
#include "support/server_process.h"

namespace delayq::testing {

namespace {

constexpr const char* kEtcdBinary = "/usr/bin/etcd";

// A port the kernel just handed out and released: free unless another process takes it in
// the moment before etcd binds it (tests on loopback accept that small race).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string Base64(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16 | static_cast<uint8_t>(bytes[i + 1]) << 8 |
                 static_cast<uint8_t>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += alphabet[(n >> shift) & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += alphabet[n >> 18];
    out += alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// JSON string contents: the base64 alphabet needs no escaping.
std::string KeyJson(const std::string& key) { return "\"key\":\"" + Base64(key) + "\""; }

}  // namespace

EtcdProcess::EtcdProcess(std::string data_dir) : data_dir_(std::move(data_dir)) {}

EtcdProcess::~EtcdProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool EtcdProcess::Installed() { return access(kEtcdBinary, X_OK) == 0; }

bool EtcdProcess::Start(std::chrono::milliseconds timeout) {
  if (client_port_ == 0) {
    client_port_ = FreePort();
    peer_port_ = FreePort();
  }
  std::string client = client_url();
  std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  std::vector<std::string> args = {kEtcdBinary,
                                   "--name=delayq-test",
                                   "--data-dir=" + data_dir_,
                                   "--listen-client-urls=" + client,
                                   "--advertise-client-urls=" + client,
                                   "--listen-peer-urls=" + peer,
                                   "--initial-advertise-peer-urls=" + peer,
                                   "--initial-cluster=delayq-test=" + peer,
                                   "--log-level=error"};
  pid_ = fork();
  if (pid_ == 0) {
    int log = open((data_dir_ + ".log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) {
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
    }
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  HttpClient http("127.0.0.1:" + std::to_string(client_port_), std::chrono::seconds(2));
  bool up = WaitFor(
      [&] { return http.Post("/v3/kv/range", "{" + KeyJson("/") + "}").status == 200; }, timeout);
  if (!up) last_error_ = "etcd did not answer on " + client + " (log: " + data_dir_ + ".log)";
  return up;
}

void EtcdProcess::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool EtcdProcess::Put(const std::string& key, const std::string& value) {
  HttpClient http("127.0.0.1:" + std::to_string(client_port_));
  auto response =
      http.Post("/v3/kv/put", "{" + KeyJson(key) + ",\"value\":\"" + Base64(value) + "\"}");
  if (response.status != 200) last_error_ = "put " + key + ": " + response.body;
  return response.status == 200;
}

bool EtcdProcess::Delete(const std::string& key) {
  HttpClient http("127.0.0.1:" + std::to_string(client_port_));
  auto response = http.Post("/v3/kv/deleterange", "{" + KeyJson(key) + "}");
  if (response.status != 200) last_error_ = "delete " + key + ": " + response.body;
  return response.status == 200;
}

}  // namespace delayq::testing
