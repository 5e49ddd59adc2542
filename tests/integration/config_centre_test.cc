// The config centre (config.source: etcd) against a real etcd server (Debian etcd-server) and
// the real delayq binary: services and topics come from etcd and follow its changes without
// a restart; bad changes and outages keep the last good configuration; an unreachable etcd at
// start-up stops delayq with a clear message.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <memory>

#include "support/callback_receiver.h"
#include "support/etcd_process.h"
#include "support/http_client.h"
#include "support/integration.h"
#include "support/server_process.h"
#include "support/temp_dir.h"
#include "support/test_util.h"

namespace delayq {
namespace {

using namespace std::chrono_literals;
using namespace delayq::integration;
using testing::EtcdProcess;
namespace json = boost::json;

constexpr const char* kPrefix = "/delayq-test/";

class ConfigCentre : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(EtcdProcess::Installed()) << "etcd not found: run scripts/bootstrap.sh";
    etcd_ = std::make_unique<EtcdProcess>(dir_.Sub("etcd"));
    ASSERT_TRUE(etcd_->Start()) << etcd_->last_error();
  }

  void Put(const std::string& key, const std::string& value) {
    ASSERT_TRUE(etcd_->Put(kPrefix + key, value)) << etcd_->last_error();
  }

  void StartDelayq() {
    server_ = std::make_unique<ServerProcess>(
        dir_.Sub("data"),
        std::vector<std::string>{"--config-source", "etcd", "--etcd-endpoints", etcd_->client_url(),
                                 "--etcd-prefix", kPrefix, "--etcd-poll-interval", "100ms"});
    ASSERT_TRUE(server_->Start()) << server_->last_error();
    client_ = std::make_unique<HttpClient>(server_->address());
  }

  // How often the server has logged `event` so far.
  size_t Logged(const std::string& event) {
    std::string log = server_->Log();
    size_t count = 0;
    for (size_t at = log.find(event); at != std::string::npos; at = log.find(event, at + 1)) {
      ++count;
    }
    return count;
  }

  // Waits for the server to log `event` one more time than `before`.
  void WaitLogged(const std::string& event, size_t before) {
    ASSERT_TRUE(WaitFor([&] { return Logged(event) > before; }, 10s))
        << "no '" << event << "' in the log:\n"
        << server_->Log();
  }

  // Seed v2 callback task (content names the service and the path), due now.
  int SeedAdd(const std::string& sn, const std::string& path, std::string* body = nullptr) {
    std::string content = R"({\"sn\":\")" + sn + R"(\",\"url\":\")" + path + R"(\",\"n\":1})";
    auto response = client_->Post("/delay/task/add", R"({"topic":"orders","timing_moment":)" +
                                                         std::to_string(WallClockMs() / 1000) +
                                                         R"(,"content":")" + content + R"("})");
    if (body) *body = response.body;
    return response.status;
  }

  TempDir dir_;
  std::unique_ptr<EtcdProcess> etcd_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

// The issue's acceptance test: change a service's URL in etcd and the next callback goes to
// the new receiver, with the same process.
TEST_F(ConfigCentre, ServiceUrlChangeRedirectsTheNextCallbackWithoutRestart) {
  CallbackReceiver a;
  CallbackReceiver b;
  Put("services/billing", a.base_url());
  StartDelayq();
  pid_t pid = server_->pid();

  ASSERT_EQ(SeedAdd("billing", "/paid"), 200);
  ASSERT_TRUE(a.WaitForCalls("/paid", 1, 10s));
  EXPECT_EQ(b.Calls("/paid").size(), 0u);

  size_t applied = Logged("config centre change applied");
  Put("services/billing", R"([")" + b.base_url() + R"("])");  // a JSON list this time
  WaitLogged("config centre change applied", applied);

  ASSERT_EQ(SeedAdd("billing", "/paid"), 200);
  ASSERT_TRUE(b.WaitForCalls("/paid", 1, 10s)) << server_->Log();
  EXPECT_EQ(a.Calls("/paid").size(), 1u) << "the second callback also went to the old URL";
  EXPECT_EQ(server_->pid(), pid);
  EXPECT_TRUE(server_->running());
}

// Services and topics added in etcd at run time are usable at once: an add naming the service
// is refused before and accepted after, and the topic's default callback applies.
TEST_F(ConfigCentre, ServicesAndTopicDefaultsAddedAtRunTime) {
  CallbackReceiver receiver;
  StartDelayq();  // empty prefix: no services, no topics
  std::string body;
  EXPECT_EQ(SeedAdd("mailer", "/send", &body), 400);
  EXPECT_NE(body.find("not a known service"), std::string::npos) << body;

  size_t applied = Logged("config centre change applied");
  Put("services/mailer", receiver.base_url());
  Put("topics/welcome",
      R"({"max_attempts": 2, "callback": {"service": "mailer", "path": "/welcome"}})");
  // Two puts may be seen by one poll or two; wait until both are in force.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = client_->Post("/v1/topics/probe/tasks",
                               R"({"payload":1,"delay_ms":3600000,"callback":{"service":"mailer",)"
                               R"("path":"/x"}})");
        return r.status == 201 && Logged("config centre change applied") > applied;
      },
      10s));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = client_->Post("/v1/topics/welcome/tasks", R"({"payload":{"user":7}})");
        if (r.status != 201) return false;
        boost::system::error_code ec;
        std::string id(json::parse(r.body, ec).at("id").as_string());
        auto task = json::parse(client_->Get("/v1/tasks/" + id).body, ec);
        return task.at("kind").as_string() == "callback" && task.at("max_attempts") == 2;
      },
      10s))
      << "the topic's settings from etcd were not applied to new tasks";
  ASSERT_TRUE(receiver.WaitForCalls("/welcome", 1, 10s));
  EXPECT_EQ(receiver.Calls("/welcome").front().body, R"({"user":7})");
}

// A bad value is refused as a whole change, with the etcd key in the log, and the last good
// registry stays in force; fixing the value applies it.
TEST_F(ConfigCentre, InvalidChangeKeepsTheLastGoodConfiguration) {
  CallbackReceiver a;
  CallbackReceiver b;
  Put("services/billing", a.base_url());
  StartDelayq();

  size_t refused = Logged("config centre change refused");
  Put("services/billing", "ftp://not-http.example");
  WaitLogged("config centre change refused", refused);
  EXPECT_NE(server_->Log().find(std::string("etcd key ") + kPrefix + "services/billing"),
            std::string::npos);
  ASSERT_EQ(SeedAdd("billing", "/paid"), 200);
  ASSERT_TRUE(a.WaitForCalls("/paid", 1, 10s)) << "the last good URL was not kept";

  refused = Logged("config centre change refused");
  Put("surprise/key", "x");  // outside services/ and topics/: a typo, refused
  Put("services/billing", b.base_url());
  WaitLogged("config centre change refused", refused);
  ASSERT_EQ(SeedAdd("billing", "/paid"), 200);
  ASSERT_TRUE(a.WaitForCalls("/paid", 2, 10s));

  size_t applied = Logged("config centre change applied");
  ASSERT_TRUE(etcd_->Delete(std::string(kPrefix) + "surprise/key"));
  WaitLogged("config centre change applied", applied);
  ASSERT_EQ(SeedAdd("billing", "/paid"), 200);
  ASSERT_TRUE(b.WaitForCalls("/paid", 1, 10s));
  EXPECT_EQ(a.Calls("/paid").size(), 2u);
}

// etcd going away while delayq runs: callbacks keep using the last configuration, and
// changes made after etcd is back are followed.
TEST_F(ConfigCentre, OutageKeepsServingAndRecovers) {
  CallbackReceiver a;
  CallbackReceiver b;
  Put("services/billing", a.base_url());
  StartDelayq();

  size_t outages = Logged("config centre unreachable");
  etcd_->Stop();
  WaitLogged("config centre unreachable", outages);
  ASSERT_EQ(SeedAdd("billing", "/paid"), 200);
  ASSERT_TRUE(a.WaitForCalls("/paid", 1, 10s));

  ASSERT_TRUE(etcd_->Start()) << etcd_->last_error();
  size_t applied = Logged("config centre change applied");
  Put("services/billing", b.base_url());
  WaitLogged("config centre change applied", applied);
  ASSERT_EQ(SeedAdd("billing", "/paid"), 200);
  ASSERT_TRUE(b.WaitForCalls("/paid", 1, 10s));
  EXPECT_EQ(Logged("config centre unreachable"), outages + 1) << "one line per outage";
}

// Decision (docs/OPERATIONS.md): no etcd at start-up means no start, with the reason; an
// invalid value at start-up is a configuration error (exit 2).
TEST_F(ConfigCentre, UnreachableOrInvalidAtStartStopsWithAClearError) {
  std::string common = ServerProcess::BinaryPath() + " serve --listen 127.0.0.1:0 --data-dir " +
                       dir_.Sub("data") + " --config-source etcd --etcd-timeout 500ms";
  std::string out = RunCommand(common + " --etcd-endpoints http://127.0.0.1:1 2>&1; echo rc=$?");
  EXPECT_NE(out.find("delayq: config centre: cannot read etcd prefix '/delayq/' from any "
                     "endpoint: http://127.0.0.1:1/v3/kv/range"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("rc=1"), std::string::npos) << out;

  Put("topics/orders", "{max_attempts: 5000}");
  out = RunCommand(common + " --etcd-endpoints " + etcd_->client_url() + " --etcd-prefix " +
                   kPrefix + " 2>&1; echo rc=$?");
  EXPECT_NE(out.find("delayq: config centre: etcd key /delayq-test/topics/orders: "
                     "topics.orders.max_attempts: unknown or out of range"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("rc=2"), std::string::npos) << out;
}

}  // namespace
}  // namespace delayq
