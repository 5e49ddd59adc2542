#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.h"
#include "support/server_process.h"
#include "support/temp_dir.h"

namespace delayq::testing {

// One delayq for a fixture, with a client to it: for fixtures that are a server of their own
// per test, and for tables whose cases share one (SharedServerSuite).
class Served {
 public:
  // Records a test failure (and returns) if the server does not start.
  void StartServer(std::vector<std::string> args = {});
  // The same with `yaml` as its config file (--config), before `args`.
  void StartWithConfig(const std::string& yaml, std::vector<std::string> args = {});

  // A request's answer as JSON (null when it is not JSON); `status` gets its status.
  boost::json::value CallJson(std::string_view method, const std::string& target,
                              const std::string& body, int* status = nullptr);

  // Stops the server (a fixture whose own members the server talks to, such as a callback
  // receiver, calls it in its destructor: they are destroyed before this base).
  void StopServer() {
    client_.reset();
    server_.reset();
  }

  // The server process is alive and answers /healthz on a fresh connection.
  void ExpectStillServing();

  // delayq_tasks_added_total, from /metrics.
  uint64_t TasksAdded();

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

// A value-parameterised suite whose cases share one `Server` (a Served with a Start()),
// started once for the suite: for tables of cases that each leave the server as it was.
template <typename Server, typename Param>
class SharedServerSuite : public ::testing::TestWithParam<Param> {
 protected:
  static void SetUpTestSuite() {
    shared_ = new Server;
    shared_->Start();
  }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }
  static inline Server* shared_ = nullptr;
};

}  // namespace delayq::testing
