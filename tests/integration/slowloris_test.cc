// Slow and greedy clients against the real binary (request size, header size and idle time are
// limited, and no client can take the server down), with
//   --limits-idle-timeout 3s --limits-max-connections 150 --io-threads 2:
// - 100 connections that dribble a request one byte per second (50 its header, 50 its body
//   after a complete header block) do not slow down a normal client, and the server closes each
//   of them (without an answer) once the idle timeout has run out, counted from the start of
//   the request (http/session.cc: ReadHeader arms the deadline once for header and body; bytes
//   arriving do not extend it);
// - connections over limits.max_connections are answered 503 / dm_error 5 and closed cleanly
//   (http/server.cc), while connections already open keep being served.
//
// All traffic goes to 127.0.0.1; every loop is bounded. The only waits are the deliberate
// one-byte-per-second pacing of the slow clients (poll() with a deadline, which also watches
// for the server closing them).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/http_client.h"
#include "support/integration.h"
#include "support/raw_http.h"
#include "support/served.h"
#include "support/server_process.h"
#include "support/temp_dir.h"

namespace delayq {
namespace {

using namespace delayq::integration;
using testing::ConnectTo;
using testing::ProcessAlive;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kIdleTimeout = 3s;
constexpr int kMaxConnections = 150;
constexpr int kSlowClients = 100;
constexpr int kSlowTicks = 6;   // bytes each slow client sends at most: one per second
constexpr int kPairs = 200;     // seed adds + pulls of the normal client
constexpr int kOverLimit = 10;  // connections opened after the first refused one

std::vector<std::string> ServerArgs() {
  return {"--limits-idle-timeout",         "3s",           "--limits-max-connections",
          std::to_string(kMaxConnections), "--io-threads", "2"};
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(rank, values.size() - 1)];
}

// ---------------------------------------------------------------------------------------------
// The slow clients.

// The request the slow clients dribble: half of them from its first byte, the other half send
// the header block at once and dribble the body. They never get far (6 bytes in 6 s).
const std::string kSlowBody = R"({"topic":"slow","timing_moment":1,"content":"never arrives"})";
const std::string kSlowHead =
    "POST /delay/task/add HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
    std::to_string(kSlowBody.size()) + "\r\n\r\n";
const std::string kSlowRequest = kSlowHead + kSlowBody;

struct SlowConnection {
  int fd = -1;
  Clock::time_point connected;
  bool open = true;
  std::optional<double> closed_after_s;  // when the server closed it, since connect
  bool reset = false;                    // closed by RST instead of FIN
  size_t sent = 0;                       // bytes of kSlowRequest sent
  size_t dribbled = 0;                   // of those, sent one per second
  size_t received = 0;                   // bytes the server sent (it must send none)
};

// Watches the open connections until `deadline`: records what the server sends and when it
// closes a connection (recv returns 0, or ECONNRESET).
void WatchUntil(std::vector<SlowConnection>& connections, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) return;
    std::vector<pollfd> fds;
    std::vector<SlowConnection*> owners;
    for (SlowConnection& c : connections) {
      if (!c.open) continue;
      fds.push_back({c.fd, POLLIN, 0});
      owners.push_back(&c);
    }
    if (fds.empty()) return;
    int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()) + 1);
    if (ready < 0 && errno != EINTR) return;
    for (size_t i = 0; ready > 0 && i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      SlowConnection& c = *owners[i];
      char buf[4096];
      ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        c.received += static_cast<size_t>(n);
      } else if (n == 0 || errno == ECONNRESET) {
        c.open = false;
        c.reset = n < 0;
        c.closed_after_s = Seconds(Clock::now() - c.connected);
      }
    }
  }
}

// The slow clients tell the normal client how far they are, so that its requests are spread
// over the whole slow phase (no sleeping on either side).
class Progress {
 public:
  void Reach(int tick) {
    std::lock_guard lock(mu_);
    reached_ = tick;
    cv_.notify_all();
  }
  // False if `tick` was not reached within 10 s.
  bool WaitFor(int tick) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return reached_ >= tick; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int reached_ = -1;
};

// One byte per connection per second, for kSlowTicks seconds (starting half a second in, so
// that no byte is sent just as the idle timeout of 3 s runs out), then stop.
void RunSlowClients(std::vector<SlowConnection>& connections, Clock::time_point start,
                    Progress& progress) {
  for (int tick = 0; tick < kSlowTicks; ++tick) {
    WatchUntil(connections, start + 500ms + tick * 1s);
    for (SlowConnection& c : connections) {
      if (!c.open || c.sent >= kSlowRequest.size()) continue;
      if (::send(c.fd, kSlowRequest.data() + c.sent, 1, MSG_NOSIGNAL) == 1) {
        ++c.sent;
        ++c.dribbled;
      }
    }
    progress.Reach(tick);
  }
  WatchUntil(connections, start + std::chrono::seconds(kSlowTicks));
}

// ---------------------------------------------------------------------------------------------
// The normal client: kPairs seed adds (due at once) and pulls, each timed, in kSlowTicks rounds:
// round r right after the slow clients sent their byte number r.

struct NormalRun {
  std::vector<double> latencies_s;  // every request
  int failures = 0;                 // requests not answered 200 / dm_error 0 as expected
  std::string first_failure;
  double total_s = 0;
};

NormalRun RunNormalClient(const std::string& address, Progress& progress) {
  NormalRun run;
  HttpClient client(address, 5s);
  auto timed = [&](const std::string& target, const std::string& body) {
    auto begin = Clock::now();
    HttpResponse response = client.Post(target, body);
    run.latencies_s.push_back(Seconds(Clock::now() - begin));
    boost::system::error_code ec;
    json::value parsed = json::parse(response.body, ec);
    if (response.status != 200 || ec || !parsed.is_object() ||
        parsed.as_object().if_contains("dm_error") == nullptr ||
        parsed.at("dm_error") != json::value(0)) {
      if (run.failures++ == 0) {
        run.first_failure = target + " -> " + std::to_string(response.status) + " " + response.body;
      }
      return json::value();
    }
    return parsed;
  };
  auto begin = Clock::now();
  for (int i = 0; i < kPairs; ++i) {
    int round = i * kSlowTicks / kPairs;
    if (i == 0 || round != (i - 1) * kSlowTicks / kPairs) {
      if (!progress.WaitFor(round) && run.failures++ == 0) run.first_failure = "slow clients hung";
    }
    std::string content = "normal-" + std::to_string(i);
    json::value added = timed("/delay/task/add", R"({"topic":"normal","timing_moment":)" +
                                                     std::to_string(NowSeconds() - 1) +
                                                     R"(,"content":")" + content + R"("})");
    json::value pulled = timed("/delay/task/pull", R"({"topic":"normal"})");
    if (added.is_object() && pulled.is_object() &&
        (pulled.at("task_id") != added.at("task_id") ||
         pulled.at("content") != json::value(content))) {
      if (run.failures++ == 0) {
        run.first_failure =
            "pull returned " + json::serialize(pulled) + " after adding " + json::serialize(added);
      }
    }
  }
  run.total_s = Seconds(Clock::now() - begin);
  return run;
}

// ---------------------------------------------------------------------------------------------
// Raw connections for the connection limit.

struct RawAnswer {
  int status = 0;
  std::string body;
  bool closed = false;  // recv returned 0 after the answer
  bool reset = false;   // ECONNRESET
};

// Reads one answer on `fd` (framed by Content-Length) and, if it says Connection: close, waits
// for the end of the stream; all within `deadline`.
RawAnswer ReadAnswer(int fd, Clock::time_point deadline) {
  RawAnswer answer;
  std::string buffer;
  size_t body_at = std::string::npos;
  size_t length = 0;
  bool close_expected = false;
  bool complete = false;
  for (;;) {
    if (body_at == std::string::npos) {
      if (size_t end = buffer.find("\r\n\r\n"); end != std::string::npos) {
        std::string head = buffer.substr(0, end);
        for (char& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (size_t at = head.find("\r\ncontent-length: "); at != std::string::npos) {
          length = std::stoul(head.substr(at + 18));
        }
        close_expected = head.find("\r\nconnection: close") != std::string::npos;
        body_at = end + 4;
      }
    }
    if (!complete && body_at != std::string::npos && buffer.size() >= body_at + length) {
      complete = true;
      answer.status = std::atoi(buffer.c_str() + 9);  // "HTTP/1.1 503 ..."
      answer.body = buffer.substr(body_at, length);
      if (!close_expected) return answer;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) return answer;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buffer.append(chunk, static_cast<size_t>(n));
    } else if (n == 0) {
      answer.closed = true;
      return answer;
    } else if (errno == ECONNRESET) {
      answer.reset = true;
      return answer;
    }
  }
}

const std::string kHealthRequest = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

// A fresh connection that sends GET /healthz; its answer is read by the caller.
int OpenAndAsk(const std::string& address) {
  int fd = ConnectTo(address);
  if (fd >= 0 && ::send(fd, kHealthRequest.data(), kHealthRequest.size(), MSG_NOSIGNAL) !=
                     static_cast<ssize_t>(kHealthRequest.size())) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Checks an answer to a connection over the limit: 503, dm_error 5, then a clean close.
void ExpectRefusedOverTheLimit(const RawAnswer& answer) {
  EXPECT_EQ(answer.status, 503) << answer.body;
  boost::system::error_code ec;
  json::value body = json::parse(answer.body, ec);
  ASSERT_FALSE(ec) << answer.body;
  EXPECT_EQ(body.at("dm_error").to_number<int64_t>(), 5) << answer.body;
  EXPECT_NE(std::string(body.at("error_msg").as_string()).find("too many connections"),
            std::string::npos)
      << answer.body;
  EXPECT_TRUE(answer.closed) << "not closed with FIN after the 503 (reset: " << answer.reset << ")";
}

// Opens connections until more than kMaxConnections are open (the test's own connections must
// all be closed before): those over the limit get 503 / dm_error 5 and a clean close, the
// existing normal connection and the accepted ones keep working, and closing connections gives
// their places back.
void CheckConnectionLimit(const std::string& address) {
  // The existing normal connection (it counts towards the limit).
  HttpClient normal(address, 5s);
  ASSERT_EQ(normal.Get("/healthz").status, 200);

  // Open connections, each asking GET /healthz, until the server refuses one: with the normal
  // connection that is the 151st. Then 10 more, which are refused too.
  std::vector<int> accepted;
  std::vector<RawAnswer> refused;
  auto deadline = Clock::now() + 10s;
  while (refused.empty() && accepted.size() <= static_cast<size_t>(kMaxConnections) &&
         Clock::now() < deadline) {
    int fd = OpenAndAsk(address);
    ASSERT_GE(fd, 0) << strerror(errno);
    RawAnswer answer = ReadAnswer(fd, Clock::now() + 2s);
    if (answer.status == 200) {
      accepted.push_back(fd);
    } else {
      refused.push_back(answer);
      ::close(fd);
    }
  }
  size_t open_when_refused = accepted.size() + 1;  // with the normal connection
  std::vector<int> over;
  for (int i = 0; i < kOverLimit; ++i) {
    int fd = OpenAndAsk(address);
    ASSERT_GE(fd, 0) << strerror(errno);
    over.push_back(fd);
  }
  for (int fd : over) {
    refused.push_back(ReadAnswer(fd, Clock::now() + 2s));
    ::close(fd);
  }
  std::printf(
      "[ figures  ] connection limit %d: %zu connections served (with the normal one), the "
      "next %zu refused\n",
      kMaxConnections, open_when_refused, refused.size());
  EXPECT_EQ(open_when_refused, static_cast<size_t>(kMaxConnections));
  ASSERT_EQ(refused.size(), static_cast<size_t>(kOverLimit + 1));
  for (const RawAnswer& answer : refused) ExpectRefusedOverTheLimit(answer);
  ASSERT_GE(accepted.size(), 10u);

  // The existing normal connection keeps working with 150 connections open, and so do the
  // accepted ones.
  HttpResponse added =
      normal.Post("/delay/task/add", R"({"topic":"limit","timing_moment":1,"content":"kept"})");
  EXPECT_EQ(added.status, 200) << added.body;
  HttpResponse pulled = normal.Post("/delay/task/pull", R"({"topic":"limit"})");
  EXPECT_EQ(pulled.status, 200) << pulled.body;
  EXPECT_NE(pulled.body.find("\"content\":\"kept\""), std::string::npos) << pulled.body;
  for (int fd : {accepted.front(), accepted.back()}) {
    ASSERT_EQ(::send(fd, kHealthRequest.data(), kHealthRequest.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(kHealthRequest.size()));
    EXPECT_EQ(ReadAnswer(fd, Clock::now() + 2s).status, 200);
  }

  // Closing ten connections gives their places back: a new connection is served again.
  for (int i = 0; i < 10; ++i) {
    ::close(accepted.back());
    accepted.pop_back();
  }
  int served = -1;
  int attempts = 0;
  for (auto until = Clock::now() + 2s; served < 0 && Clock::now() < until; ++attempts) {
    int fd = OpenAndAsk(address);
    ASSERT_GE(fd, 0);
    RawAnswer answer = ReadAnswer(fd, Clock::now() + 1s);
    if (answer.status == 200) {
      served = fd;
    } else {
      ::close(fd);
    }
  }
  EXPECT_GE(served, 0) << "no connection served after closing ten";
  std::printf("[ figures  ] after closing 10 connections: served again after %d attempt(s)\n",
              attempts);
  if (served >= 0) ::close(served);
  for (int fd : accepted) ::close(fd);
  EXPECT_EQ(normal.Get("/healthz").status, 200);
}

class Slowloris : public ::testing::Test, protected testing::Served {
 protected:
  void SetUp() override { StartServer(ServerArgs()); }

  uint64_t TasksAdded() {
    HttpClient client(server_->address());
    HttpResponse metrics = client.Get("/metrics");
    EXPECT_EQ(metrics.status, 200);
    const std::string name = "\ndelayq_tasks_added_total ";
    size_t at = metrics.body.find(name);
    EXPECT_NE(at, std::string::npos) << metrics.body;
    if (at == std::string::npos) return 0;
    return std::stoull(metrics.body.substr(at + name.size()));
  }
};

TEST_F(Slowloris,
       SlowClientsDoNotStallANormalClientAreClosedAfterTheIdleTimeoutAndFreeTheirPlaces) {
  const std::string& address = server_->address();

  // 100 slow connections.
  std::vector<SlowConnection> slow(kSlowClients);
  for (size_t i = 0; i < slow.size(); ++i) {
    SlowConnection& c = slow[i];
    c.fd = ConnectTo(address);
    ASSERT_GE(c.fd, 0) << "connect failed: " << strerror(errno);
    c.connected = Clock::now();
    if (i % 2 == 1) {  // a body dribbler: the whole header block now
      ASSERT_EQ(::send(c.fd, kSlowHead.data(), kSlowHead.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(kSlowHead.size()));
      c.sent = kSlowHead.size();
    }
  }
  auto start = Clock::now();

  // Meanwhile a normal client on a fresh connection.
  NormalRun normal;
  Progress progress;
  std::thread normal_thread([&] { normal = RunNormalClient(address, progress); });
  RunSlowClients(slow, start, progress);
  normal_thread.join();
  for (SlowConnection& c : slow) ::close(c.fd);

  // The normal client: every request answered, quickly.
  double p50 = Percentile(normal.latencies_s, 0.50);
  double p99 = Percentile(normal.latencies_s, 0.99);
  double max = Percentile(normal.latencies_s, 1.0);
  std::printf(
      "[ figures  ] normal client: %zu requests (%d seed add+pull pairs) over %.3f s beside %d "
      "slow connections; latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; %d failures\n",
      normal.latencies_s.size(), kPairs, normal.total_s, kSlowClients, p50 * 1e3, p99 * 1e3,
      max * 1e3, normal.failures);
  EXPECT_EQ(normal.latencies_s.size(), static_cast<size_t>(2 * kPairs));
  EXPECT_EQ(normal.failures, 0) << normal.first_failure;
  EXPECT_LT(p99, 1.0) << "normal requests stalled behind the slow clients";

  // The slow connections: each closed by the server, without an answer, after ~3 s.
  std::vector<double> closed_after;
  int eof = 0, reset = 0, answered = 0;
  size_t max_dribbled = 0;
  for (const SlowConnection& c : slow) {
    if (c.closed_after_s) closed_after.push_back(*c.closed_after_s);
    (c.reset ? reset : eof) += c.closed_after_s ? 1 : 0;
    answered += c.received > 0;
    max_dribbled = std::max(max_dribbled, c.dribbled);
  }
  std::printf(
      "[ figures  ] slow clients: %zu of %d closed by the server (%d FIN, %d RST) after "
      "min %.3f s, median %.3f s, max %.3f s (idle timeout %.0f s); at most %zu bytes dribbled "
      "each; %d got bytes back\n",
      closed_after.size(), kSlowClients, eof, reset, Percentile(closed_after, 0),
      Percentile(closed_after, 0.5), Percentile(closed_after, 1.0),
      Seconds(Clock::duration(kIdleTimeout)), max_dribbled, answered);
  EXPECT_EQ(closed_after.size(), static_cast<size_t>(kSlowClients))
      << "slow connections still open after " << kSlowTicks << " s";
  EXPECT_EQ(answered, 0) << "the server answered a request it never fully received";
  if (!closed_after.empty()) {
    EXPECT_GE(Percentile(closed_after, 0), Seconds(Clock::duration(kIdleTimeout)) - 0.1)
        << "closed before the idle timeout";
    EXPECT_LE(Percentile(closed_after, 1.0), 5.0) << "closed too long after the idle timeout";
  }
  EXPECT_EQ(reset, 0) << "slow connections were reset instead of closed";

  // Nothing but the normal client's tasks was added, and the server still serves.
  EXPECT_EQ(TasksAdded(), static_cast<uint64_t>(kPairs));
  ASSERT_TRUE(ProcessAlive(server_->pid())) << server_->Log();

  // The slow connections gave their places back: exactly 150 connections are served again.
  CheckConnectionLimit(address);
  ASSERT_TRUE(ProcessAlive(server_->pid())) << server_->Log();
}

TEST_F(Slowloris, ConnectionsOverTheLimitGet503AndAreClosedWhileAnOpenConnectionKeepsWorking) {
  CheckConnectionLimit(server_->address());
  ASSERT_TRUE(ProcessAlive(server_->pid())) << server_->Log();
}

}  // namespace
}  // namespace delayq
