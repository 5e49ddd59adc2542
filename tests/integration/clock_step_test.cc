// The wall clock steps under load (NTP correcting a drifted clock, a VM migrated to a host
// whose clock differs): delayq runs under libfaketime, whose offset the test rewrites in a
// file the library re-reads on every clock call. Only the wall clock moves; the monotonic
// clock (timeouts, condition waits) does not, as on a real host.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/integration.h"

namespace delayq {
namespace {

using namespace delayq::integration;
namespace json = boost::json;

constexpr const char* kFakeTime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kLeaseMs = 30'000;

json::value Parse(const std::string& text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  return ec ? json::value() : value;
}

uint64_t IdOf(const json::value& v) { return std::stoull(std::string(v.at("id").as_string())); }

// The server's wall clock is the real one plus an offset the test sets.
class SteppedServer {
 public:
  explicit SteppedServer(TempDir& dir)
      : offset_file_(dir.Sub("faketime")), server_(dir.Sub("data"), {"--log-level", "warn"}) {
    SetOffsetMs(0);
#ifdef DELAYQ_CLOCK_BINARY
    server_.SetBinary(DELAYQ_CLOCK_BINARY);
#endif
    server_.SetEnv("LD_PRELOAD", kFakeTime);
    server_.SetEnv("FAKETIME_TIMESTAMP_FILE", offset_file_);
    server_.SetEnv("FAKETIME_NO_CACHE", "1");
    server_.SetEnv("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    // A sanitizer runtime wants to be the first library; libfaketime only wraps the clock.
    const char* asan = std::getenv("ASAN_OPTIONS");
    server_.SetEnv("ASAN_OPTIONS",
                   std::string(asan ? asan : "") + (asan ? ":" : "") + "verify_asan_link_order=0");
  }

  void SetOffsetMs(int64_t offset_ms) {
    std::string tmp = offset_file_ + ".tmp";
    {
      std::ofstream out(tmp);
      out << (offset_ms >= 0 ? "+" : "") << offset_ms / 1000 << "\n";
    }
    // rename: the library never reads a half-written file.
    ASSERT_EQ(::rename(tmp.c_str(), offset_file_.c_str()), 0);
  }

  ServerProcess& process() { return server_; }

 private:
  std::string offset_file_;
  ServerProcess server_;
};

// What the consumer saw: each delivery with the server's clock at the take (the answer's
// lease_until_ms minus the lease asked for).
struct Delivery {
  uint64_t id;
  int64_t due_at_ms;
  int64_t server_now_ms;
};

class Traffic {
 public:
  explicit Traffic(const std::string& address) : address_(address) {}
  ~Traffic() { Stop(); }

  void Start() {
    threads_.emplace_back([this] {
      HttpClient client(address_, std::chrono::seconds(20));
      std::mt19937 random(7);
      for (int n = 0; !stop_ && n < 200'000; ++n) {
        int64_t delay = random() % 3000;
        auto response =
            client.Post("/v1/topics/clk/tasks", R"({"delay_ms":)" + std::to_string(delay) +
                                                    R"(,"payload":"n)" + std::to_string(n) + "\"}");
        json::value body = Parse(response.body);
        std::lock_guard lock(mu_);
        if (response.status == 201 && body.is_object()) {
          added_.push_back(IdOf(body));
        } else {
          ++failed_adds_;
        }
      }
    });
    threads_.emplace_back([this] {
      HttpClient client(address_, std::chrono::seconds(20));
      while (!stop_) {
        if (Consume(client) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }

  int Consume(HttpClient& client) {
    auto response = client.Post("/v1/topics/clk/pull",
                                R"({"max":50,"lease_ms":)" + std::to_string(kLeaseMs) + "}");
    json::value body = Parse(response.body);
    if (response.status != 200 || !body.is_object()) return 0;
    int taken = 0;
    for (const json::value& task : body.at("tasks").as_array()) {
      ++taken;
      {
        std::lock_guard lock(mu_);
        delivered_.push_back({IdOf(task), task.at("due_at_ms").as_int64(),
                              task.at("lease_until_ms").as_int64() - kLeaseMs});
      }
      client.Post("/v1/tasks/" + std::string(task.at("id").as_string()) + "/ack",
                  R"({"lease":")" + std::string(task.at("lease").as_string()) + "\"}");
    }
    return taken;
  }

  void Stop() {
    stop_ = true;
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

  size_t added() {
    std::lock_guard lock(mu_);
    return added_.size();
  }
  size_t delivered() {
    std::lock_guard lock(mu_);
    return delivered_.size();
  }
  std::vector<uint64_t> added_ids() {
    std::lock_guard lock(mu_);
    return added_;
  }
  std::vector<Delivery> deliveries() {
    std::lock_guard lock(mu_);
    return delivered_;
  }
  int failed_adds() {
    std::lock_guard lock(mu_);
    return failed_adds_;
  }

 private:
  std::string address_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::vector<uint64_t> added_;  // in the order the one adder got them
  std::vector<Delivery> delivered_;
  int failed_adds_ = 0;
};

// Forward 1 h, back 1 h, forward 1 h again under adds (due 0-3 s ahead) and pulls + acks.
// By the server's own clock no task is taken before its due time; every acknowledged add is
// delivered; ids from one node keep increasing across the back step. A lease taken before
// the forward step has run out after it (deadlines are wall-clock instants): the task is
// handed out again and the old lease is refused.
TEST(ClockStep, ForwardAndBackUnderLoadFiresNothingEarlyAndLosesNothing) {
  if (::access(kFakeTime, R_OK) != 0) GTEST_SKIP() << "libfaketime is not installed";
#if defined(__SANITIZE_THREAD__)
  // libfaketime replaces pthread_cond_timedwait and calls glibc's own through dlvsym, past
  // TSan's interceptor: TSan then never sees a timed wait release and retake its mutex, and
  // reports every one (RocksDB's timer thread waits so at start) as a double lock, with
  // false races after. The release and ASan suites run this test.
  GTEST_SKIP() << "libfaketime's pthread_cond_timedwait hides waits from ThreadSanitizer";
#endif
  TempDir dir;
  SteppedServer stepped(dir);
  ServerProcess& server = stepped.process();
  ASSERT_TRUE(server.Start()) << server.last_error();
  HttpClient probe(server.address());

  // A task held under a long lease across the forward step.
  auto added = probe.Post("/v1/topics/held/tasks", R"({"delay_ms":0,"payload":"held"})");
  ASSERT_EQ(added.status, 201) << added.body;
  json::value held;
  ASSERT_TRUE(WaitFor(
      [&] {
        held = Parse(probe.Post("/v1/topics/held/pull", R"({"max":1,"lease_ms":600000})").body);
        return held.is_object() && !held.at("tasks").as_array().empty();
      },
      std::chrono::seconds(5)));
  std::string held_id(held.at("tasks").at(0).at("id").as_string());
  std::string held_lease(held.at("tasks").at(0).at("lease").as_string());

  Traffic traffic(server.address());
  traffic.Start();
  auto run_until = [&](size_t adds) {
    ASSERT_TRUE(WaitFor([&] { return traffic.added() >= adds; }, std::chrono::seconds(30)));
  };
  run_until(300);
  stepped.SetOffsetMs(kHourMs);
  run_until(traffic.added() + 300);
  stepped.SetOffsetMs(0);
  run_until(traffic.added() + 300);
  // The tasks added while the clock was an hour ahead are due an hour from now by this clock:
  // the next step forward releases them.
  stepped.SetOffsetMs(kHourMs);
  run_until(traffic.added() + 300);
  traffic.Stop();

  std::vector<uint64_t> ids = traffic.added_ids();
  std::set<uint64_t> expected(ids.begin(), ids.end());
  auto all_delivered = [&] {
    std::set<uint64_t> got;
    for (const Delivery& d : traffic.deliveries()) got.insert(d.id);
    return std::includes(got.begin(), got.end(), expected.begin(), expected.end());
  };
  WaitFor(
      [&] {
        while (traffic.Consume(probe) > 0) {
        }
        return all_delivered();
      },
      std::chrono::seconds(20));

  EXPECT_EQ(traffic.failed_adds(), 0);
  size_t not_increasing = 0;
  for (size_t i = 1; i < ids.size(); ++i) not_increasing += ids[i] <= ids[i - 1];
  EXPECT_EQ(not_increasing, 0u) << "ids minted by one node went back";
  EXPECT_EQ(expected.size(), ids.size()) << "an id was minted twice";
  size_t early = 0;
  std::string first_early;
  std::set<uint64_t> got;
  for (const Delivery& d : traffic.deliveries()) {
    got.insert(d.id);
    if (d.due_at_ms > d.server_now_ms) {
      if (early++ == 0) {
        first_early = std::to_string(d.id) + " due " + std::to_string(d.due_at_ms) + " taken at " +
                      std::to_string(d.server_now_ms);
      }
    }
  }
  EXPECT_EQ(early, 0u) << "tasks taken before their due time, first: " << first_early;
  size_t lost = 0;
  for (uint64_t id : expected) lost += got.count(id) == 0;
  EXPECT_EQ(lost, 0u) << "acknowledged adds never delivered, of " << expected.size();

  // The held lease ran out with the forward step: the task is handed out again, and an ack
  // with the old lease is refused.
  json::value again;
  ASSERT_TRUE(WaitFor(
      [&] {
        again = Parse(probe.Post("/v1/topics/held/pull", R"({"max":1,"lease_ms":60000})").body);
        return again.is_object() && !again.at("tasks").as_array().empty();
      },
      std::chrono::seconds(5)))
      << "a lease taken before the clock stepped forward by an hour still held";
  EXPECT_EQ(std::string(again.at("tasks").at(0).at("id").as_string()), held_id);
  EXPECT_EQ(again.at("tasks").at(0).at("attempt").as_int64(), 2);
  auto stale = probe.Post("/v1/tasks/" + held_id + "/ack", R"({"lease":")" + held_lease + "\"}");
  EXPECT_EQ(stale.status, 409) << stale.body;
  std::cout << "added " << ids.size() << ", deliveries " << traffic.delivered() << " ("
            << traffic.delivered() - got.size() << " redelivered)\n";
}

}  // namespace
}  // namespace delayq
