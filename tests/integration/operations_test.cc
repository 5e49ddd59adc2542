// Operating delayq (docs/OPERATIONS.md): request ids and the access log as an
// operator sees them in the server's log, log levels, and a backup by stop + copy of the
// data directory that restores every task.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>

#include "support/http_client.h"
#include "support/integration.h"
#include "support/server_process.h"
#include "support/temp_dir.h"
#include "support/test_util.h"

namespace delayq {
namespace {

using ::testing::HasSubstr;
using namespace delayq::integration;
using ::testing::Not;
using testing::RunProcess;
using testing::ServerProcess;
using testing::TempDir;
namespace json = boost::json;

// A generated request id: 16 lower-case hex digits.
bool IsGeneratedId(const std::string& id) {
  return id.size() == 16 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST(RequestIds, EchoedWhenGivenGeneratedOtherwiseAndInTheAccessLog) {
  TempDir dir;
  ServerProcess server(dir.Sub("data"));
  ASSERT_TRUE(server.Start()) << server.last_error();
  HttpClient client(server.address());

  HttpResponse given = client.Request("POST", "/v1/topics/orders/tasks", R"({"payload":1})",
                                      {{"X-Request-Id", "trace-0af76519"}});
  EXPECT_EQ(given.status, 201);
  EXPECT_EQ(given.headers["x-request-id"], "trace-0af76519");

  HttpResponse generated = client.Get("/v1/tasks/1");
  std::string id = generated.headers["x-request-id"];
  EXPECT_TRUE(IsGeneratedId(id)) << id;
  EXPECT_NE(client.Get("/healthz").headers["x-request-id"], id);

  // An id that is unsafe to log (a space, a quote) is replaced, not echoed.
  HttpResponse unsafe = client.Request("GET", "/healthz", "", {{"X-Request-Id", "a \"b\""}});
  EXPECT_TRUE(IsGeneratedId(unsafe.headers["x-request-id"])) << unsafe.headers["x-request-id"];

  // One logfmt line per request, with the route pattern and the raw path.
  ASSERT_TRUE(
      testing::WaitFor([&] { return server.Log().find("request_id=" + id) != std::string::npos; },
                       std::chrono::seconds(5)));
  std::string log = server.Log();
  EXPECT_THAT(log, HasSubstr("level=info msg=request request_id=trace-0af76519 remote=127.0.0.1:"));
  EXPECT_THAT(log, HasSubstr("method=POST path=/v1/topics/orders/tasks "
                             "route=/v1/topics/{topic}/tasks status=201 duration_ms="));
  EXPECT_THAT(log, HasSubstr("request_id=" + id));
  EXPECT_THAT(log, HasSubstr("path=/v1/tasks/1 route=/v1/tasks/{id} status=404"));
}

TEST(AccessLog, OffByFlagOrEnvironmentWhileOtherInfoLinesStay) {
  for (bool by_env : {false, true}) {
    TempDir dir;
    std::vector<std::string> flags;
    if (by_env) {
      setenv("DELAYQ_ACCESS_LOG", "false", 1);  // inherited by the server process
    } else {
      flags = {"--access-log", "false"};
    }
    ServerProcess server(dir.Sub("data"), flags);
    bool started = server.Start();
    unsetenv("DELAYQ_ACCESS_LOG");
    ASSERT_TRUE(started) << server.last_error();
    HttpClient client(server.address());
    EXPECT_EQ(client.Post("/v1/topics/orders/tasks", R"({"payload":1})").status, 201);
    EXPECT_EQ(client.Get("/v1/tasks/1").status, 404);
    EXPECT_EQ(server.Terminate(), 0);
    std::string log = server.Log();
    EXPECT_THAT(log, HasSubstr("msg=\"serving\"")) << (by_env ? "env" : "flag");
    EXPECT_THAT(log, HasSubstr("msg=\"stopped\""));
    EXPECT_THAT(log, Not(HasSubstr("msg=request"))) << log;
  }
}

TEST(LogLevel, WarnHidesInfoLines) {
  TempDir dir;
  ServerProcess server(dir.Sub("data"), {"--log-level", "warn"});
  ASSERT_TRUE(server.Start()) << server.last_error();
  HttpClient client(server.address());
  EXPECT_EQ(client.Post("/v1/topics/orders/tasks", R"({"payload":1})").status, 201);
  EXPECT_EQ(server.Terminate(), 0);
  std::string log = server.Log();
  EXPECT_THAT(log, Not(HasSubstr("level=info"))) << log;
}

// docs/OPERATIONS.md, "Backup and restore": stop the server (SIGTERM), copy the data
// directory, start a server on the copy: every task is there, in its state, and fires.
TEST(Backup, StopCopyAndStartOnTheCopyKeepsEveryTask) {
  TempDir dir;
  std::vector<std::string> ids;
  {
    ServerProcess server(dir.Sub("data"), {"--durability", "buffered"});
    ASSERT_TRUE(server.Start()) << server.last_error();
    HttpClient client(server.address());
    for (const char* body :
         {R"({"payload":"soon","delay_ms":1500})", R"({"payload":"later","delay_ms":3600000})",
          R"({"payload":"cancel me","delay_ms":3600000})"}) {
      HttpResponse r = client.Post("/v1/topics/orders/tasks", body);
      ASSERT_EQ(r.status, 201) << r.body;
      ids.emplace_back(json::parse(r.body).at("id").as_string());
    }
    ASSERT_EQ(client.Request("DELETE", "/v1/tasks/" + ids[2]).status, 200);
    ASSERT_EQ(server.Terminate(), 0);  // a graceful stop syncs everything (buffered mode too)
  }
  auto copied = RunProcess({"/bin/cp", "-a", dir.Sub("data"), dir.Sub("backup")});
  ASSERT_EQ(copied.exit_code, 0) << copied.err;

  ServerProcess restored(dir.Sub("backup"));
  ASSERT_TRUE(restored.Start()) << restored.last_error();
  HttpClient client(restored.address());
  auto state = [&](const std::string& id) {
    HttpResponse r = client.Get("/v1/tasks/" + id);
    EXPECT_EQ(r.status, 200) << r.body;
    return std::string(json::parse(r.body).at("state").as_string());
  };
  EXPECT_EQ(state(ids[1]), "scheduled");
  EXPECT_EQ(state(ids[2]), "cancelled");
  // The task due 1.5 s after it was added fires from the copy.
  json::value pulled;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        pulled = json::parse(client.Post("/v1/topics/orders/pull", "{}").body);
        return !pulled.at("tasks").as_array().empty();
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(pulled.at("tasks").as_array()[0].at("id").as_string(), ids[0]);
  EXPECT_EQ(pulled.at("tasks").as_array()[0].at("payload").as_string(), "soon");
}

}  // namespace
}  // namespace delayq
