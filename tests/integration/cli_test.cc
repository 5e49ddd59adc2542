// The client subcommands of the delayq binary against a running server: each
// one's human output, --json, exit statuses, and the effect a user cares about, checked
// through the HTTP API.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "support/callback_receiver.h"
#include "support/http_client.h"
#include "support/integration.h"
#include "support/served.h"
#include "support/server_process.h"
#include "support/temp_dir.h"
#include "support/test_util.h"

namespace delayq {
namespace {

using namespace delayq::integration;
using testing::ProcessResult;
using testing::RunProcess;
namespace json = boost::json;

using ::testing::HasSubstr;

class Cli : public ::testing::Test, protected testing::Served {
 protected:
  void SetUp() override { StartServer(); }

  std::string Url() const { return "http://" + server_->address(); }

  // `delayq <args> --server URL`.
  ProcessResult Run(std::vector<std::string> args,
                    std::vector<std::pair<std::string, std::string>> env = {}) {
    args.insert(args.begin(), ServerProcess::BinaryPath());
    args.push_back("--server");
    args.push_back(Url());
    return RunProcess(args, env);
  }

  json::object Api(std::string_view method, const std::string& target,
                   const std::string& body = "") {
    auto r = client_->Request(method, target, body);
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    return v.is_object() ? v.as_object() : json::object();
  }

  std::string AddJson(std::vector<std::string> args) {
    args.insert(args.begin(), "add");
    args.push_back("--json");
    ProcessResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    boost::system::error_code ec;
    json::value v = json::parse(r.out, ec);
    EXPECT_FALSE(ec) << r.out;
    return ec ? "" : std::string(v.at("id").as_string());
  }
};

TEST_F(Cli, AddPrintsATableAndStoresThePayloadDueAfterIn) {
  int64_t before = WallClockMs();
  ProcessResult r = Run({"add", "--topic", "orders", "--in", "10m", "--payload", R"({"uid":7})"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  // "ID  TOPIC  DUE" then one row: the id, the topic, the due time in RFC 3339.
  ASSERT_THAT(r.out, HasSubstr("ID"));
  std::istringstream lines(r.out);
  std::string header, row;
  std::getline(lines, header);
  std::getline(lines, row);
  std::string id = row.substr(0, row.find(' '));
  ASSERT_FALSE(id.empty()) << r.out;
  EXPECT_THAT(row, HasSubstr("orders"));
  // Due 10 minutes after the add; the CLI reads its clock a few ms later (or in the same ms).
  EXPECT_THAT(row, ::testing::ContainsRegex("\\(in (9m5[0-9]s|10m0s)\\)"));

  json::object task = Api("GET", "/v1/tasks/" + id);
  EXPECT_EQ(task["state"], "scheduled");
  EXPECT_EQ(task["kind"], "pull");
  EXPECT_EQ(json::serialize(task["payload"]), R"({"uid":7})");  // JSON stays JSON
  int64_t due = task["due_at_ms"].as_int64();
  EXPECT_GE(due, before + 600'000);
  EXPECT_LE(due, WallClockMs() + 600'000);
}

TEST_F(Cli, AddWithAtJsonTextPayloadAndCallbackFiresAtTheReceiver) {
  // --at in unix milliseconds, a payload that is not JSON (sent as a string), --json.
  int64_t at = WallClockMs() + 300;
  CallbackReceiver receiver;
  receiver.SetStatuses("/hook", {200});
  std::string id = AddJson({"--topic", "mail", "--at", std::to_string(at), "--payload",
                            "hello there", "--callback", receiver.base_url() + "/hook"});
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(receiver.WaitForCalls("/hook", 1, std::chrono::seconds(10)));
  auto calls = receiver.Calls("/hook");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].body, "hello there");
  EXPECT_GE(calls[0].at_ms, at);
  EXPECT_TRUE(testing::WaitFor([&] { return Api("GET", "/v1/tasks/" + id)["state"] == "done"; },
                               std::chrono::seconds(5)));

  // --at as RFC 3339: an hour from now, in whole seconds.
  std::time_t in_an_hour = static_cast<std::time_t>(WallClockMs() / 1000 + 3600);
  std::tm utc{};
  gmtime_r(&in_an_hour, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  std::string later = AddJson({"--topic", "mail", "--at", text, "--payload", "x"});
  EXPECT_EQ(Api("GET", "/v1/tasks/" + later)["due_at_ms"].as_int64(),
            static_cast<int64_t>(in_an_hour) * 1000);
}

TEST_F(Cli, AddKeepsATraceContextAndTheServerRefusesABadOne) {
  const std::string parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  std::string id = AddJson(
      {"--topic", "traced", "--payload", "x", "--traceparent", parent, "--tracestate", "a=1"});
  ASSERT_FALSE(id.empty());
  json::object task = Api("GET", "/v1/tasks/" + id);
  EXPECT_EQ(task["traceparent"], json::value(parent));
  EXPECT_EQ(task["tracestate"], json::value("a=1"));
  ProcessResult bad = Run({"add", "--topic", "traced", "--payload", "x", "--traceparent", "00-x"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("traceparent is invalid"));
}

TEST_F(Cli, AddRefusesBadArgumentsNamingTheOptionWithoutSending) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"add", "--payload", "x"}, "--topic is required"},
      {{"add", "--topic", "t"}, "--payload is required"},
      {{"add", "--topic", "t", "--payload", "x", "--in", "10x"}, "--in '10x' is not a duration"},
      {{"add", "--topic", "a b", "--payload", "x"}, "--topic 'a b' is not a valid topic name"},
      {{"add", "--topic", "t", "--payload", "x", "--in", "1s", "--at", "1893553445000"},
       "--in excludes --at"},
      {{"add", "--topic", "t", "--payload", "x", "--at", "1893553445"}, "give unix milliseconds"},
      {{"add", "--topic", "t", "--payload", "x", "--at", "99999999999999999999999"},
       "too large for unix milliseconds"},
      {{"add", "--topic", "t", "--payload", "x", "--callback", "hooks/x"},
       "--callback 'hooks/x' is not an absolute URL"},
  };
  for (const Case& c : cases) {
    ProcessResult r = Run(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.message << "\n" << r.out << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.message));
  }
  // Nothing reached the server.
  EXPECT_EQ(Api("GET", "/v1/topics")["topics"].as_array().size(), 0u);

  // The server's own refusals: exit 1, its message, the request id for the server log.
  ProcessResult r = Run({"add", "--topic", "t", "--payload", "x", "--at", "yesterday"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("the server answered 400"));
  EXPECT_THAT(r.err, HasSubstr("at"));
  EXPECT_THAT(r.err, HasSubstr("[request id "));
}

TEST_F(Cli, GetShowsTheTaskAndFailsClearlyOnUnknownOrBadIds) {
  std::string id = AddJson({"--topic", "orders", "--in", "1h", "--payload", "42"});
  ProcessResult r = Run({"get", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("id          " + id));
  EXPECT_THAT(r.out, HasSubstr("state       scheduled"));
  EXPECT_THAT(r.out, HasSubstr("payload     42"));
  EXPECT_THAT(r.out, HasSubstr("attempts    0 of 10"));

  ProcessResult j = Run({"get", id, "--json"});
  ASSERT_EQ(j.exit_code, 0);
  EXPECT_EQ(json::parse(j.out).at("id").as_string(), id);

  ProcessResult missing = Run({"get", "12345"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("404: task 12345 not found"));

  ProcessResult bad = Run({"get", "abc"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("task id 'abc' must be a positive decimal number"));
}

TEST_F(Cli, CancelCancelsAScheduledTaskAndRefusesADeliveredOne) {
  std::string id = AddJson({"--topic", "orders", "--in", "1h", "--payload", "1"});
  ProcessResult r = Run({"cancel", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("state       cancelled"));
  EXPECT_EQ(Api("GET", "/v1/tasks/" + id)["state"], "cancelled");

  // A task already handed to a consumer cannot be cancelled: 409, exit 1.
  std::string due = AddJson({"--topic", "orders", "--payload", "2"});
  ASSERT_EQ(Run({"pull", "--topic", "orders"}).exit_code, 0);
  ProcessResult late = Run({"cancel", due});
  EXPECT_EQ(late.exit_code, 1);
  EXPECT_THAT(late.err, HasSubstr("the server answered 409"));
  EXPECT_EQ(Api("GET", "/v1/tasks/" + due)["state"], "leased");
}

TEST_F(Cli, PullLeasesAcksAndLongPolls) {
  // Nothing due: a message, exit 0.
  ProcessResult empty = Run({"pull", "--topic", "jobs"});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_THAT(empty.out, HasSubstr("no task due in topic 'jobs'"));

  // Without --ack the task is leased (the table shows the lease for a later ack).
  std::string first = AddJson({"--topic", "jobs", "--payload", R"({"job":1})"});
  ProcessResult leased = Run({"pull", "--topic", "jobs"});
  ASSERT_EQ(leased.exit_code, 0) << leased.err;
  EXPECT_THAT(leased.out, HasSubstr("LEASE"));
  EXPECT_THAT(leased.out, HasSubstr(first));
  EXPECT_THAT(leased.out, HasSubstr(R"({"job":1})"));
  EXPECT_EQ(Api("GET", "/v1/tasks/" + first)["state"], "leased");

  // With --ack it is done.
  std::string second = AddJson({"--topic", "jobs", "--payload", "two"});
  ProcessResult acked = Run({"pull", "--topic", "jobs", "--ack"});
  ASSERT_EQ(acked.exit_code, 0) << acked.err;
  EXPECT_THAT(acked.out, HasSubstr(second));
  EXPECT_THAT(acked.out, HasSubstr("yes"));
  EXPECT_EQ(Api("GET", "/v1/tasks/" + second)["state"], "done");

  // --wait: a task added while the pull waits is returned as soon as it is due. The task is
  // added once the server reports the pull waiting, so that the wake-up is what answers it.
  std::thread producer([&] {
    HttpClient own(server_->address());
    bool waiting = testing::WaitFor(
        [&] {
          return own.Get("/metrics").body.find("\ndelayq_pulls_waiting 1\n") != std::string::npos;
        },
        std::chrono::seconds(10));
    EXPECT_TRUE(waiting) << "the pull never waited";
    own.Post("/v1/topics/jobs/tasks", R"({"payload":"late"})");
  });
  auto started = std::chrono::steady_clock::now();
  ProcessResult waited = Run({"pull", "--topic", "jobs", "--wait", "10s", "--ack", "--json"});
  auto took = std::chrono::steady_clock::now() - started;
  producer.join();
  ASSERT_EQ(waited.exit_code, 0) << waited.err;
  json::value answer = json::parse(waited.out);
  ASSERT_EQ(answer.at("tasks").as_array().size(), 1u) << waited.out;
  EXPECT_EQ(answer.at("tasks").as_array()[0].at("payload"), "late");
  EXPECT_LT(took, std::chrono::seconds(5));

  ProcessResult bad = Run({"pull", "--topic", "jobs", "--wait", "1h"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--wait '1h' must be a duration from 0 to 30s"));
}

TEST_F(Cli, AckAndNackUseTheLeasePrintedByPull) {
  std::string id = AddJson({"--topic", "jobs", "--payload", "p", "--max-attempts", "2"});
  auto lease_of = [&](const ProcessResult& pulled) {
    json::value v = json::parse(pulled.out);
    return std::string(v.at("tasks").as_array().at(0).at("lease").as_string());
  };
  ProcessResult pulled = Run({"pull", "--topic", "jobs", "--json"});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;

  // nack with a delay: scheduled again, attempt 1 used.
  ProcessResult nacked = Run({"nack", id, "--lease", lease_of(pulled), "--delay", "1h"});
  ASSERT_EQ(nacked.exit_code, 0) << nacked.err;
  EXPECT_THAT(nacked.out, HasSubstr("state       scheduled"));
  EXPECT_THAT(nacked.out, HasSubstr("last error  nacked by consumer"));
  EXPECT_GT(Api("GET", "/v1/tasks/" + id)["due_at_ms"].as_int64(), WallClockMs() + 3'000'000);

  // A stale lease: 409, exit 1.
  ProcessResult stale = Run({"ack", id, "--lease", lease_of(pulled)});
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_THAT(stale.err, HasSubstr("the server answered 409"));

  // Back to due now, pulled again, acked: done.
  ASSERT_EQ(client_->Post("/v1/tasks/" + id + "/reschedule", R"({"now":true})").status, 200);
  ProcessResult again = Run({"pull", "--topic", "jobs", "--json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  ProcessResult acked = Run({"ack", id, "--lease", lease_of(again)});
  ASSERT_EQ(acked.exit_code, 0) << acked.err;
  EXPECT_THAT(acked.out, HasSubstr("state       done"));
  EXPECT_EQ(Api("GET", "/v1/tasks/" + id)["state"], "done");

  ProcessResult missing = Run({"ack", id});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--lease is required"));
}

// Many ID:LEASE items go in one batch request: each task's new state in a table, each refused
// item on stderr with the single call's status and message, exit 1 when any was refused.
TEST_F(Cli, AckAndNackTakeManyIdLeaseItemsInOneBatch) {
  std::string a = AddJson({"--topic", "many", "--payload", "a"});
  std::string b = AddJson({"--topic", "many", "--payload", "b"});
  std::string c = AddJson({"--topic", "many", "--payload", "c"});
  ProcessResult pulled = Run({"pull", "--topic", "many", "--max", "3", "--json"});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  std::map<std::string, std::string> lease;
  json::value answer = json::parse(pulled.out);  // kept: the loop refers into it
  for (const json::value& task : answer.at("tasks").as_array()) {
    lease[std::string(task.at("id").as_string())] = std::string(task.at("lease").as_string());
  }
  ASSERT_EQ(lease.size(), 3u) << pulled.out;

  ProcessResult acked = Run({"ack", a + ":" + lease[a], b + ":" + lease[b]});
  ASSERT_EQ(acked.exit_code, 0) << acked.err;
  EXPECT_THAT(acked.out, ::testing::ContainsRegex(a + " +done"));
  EXPECT_THAT(acked.out, ::testing::ContainsRegex(b + " +done"));
  EXPECT_EQ(Api("GET", "/v1/tasks/" + b)["state"], "done");

  // One stale (a is done now), one applied: exit 1, the stale one named on stderr.
  ProcessResult mixed = Run({"nack", a + ":" + lease[a], c + ":" + lease[c], "--delay", "1h"});
  EXPECT_EQ(mixed.exit_code, 1);
  EXPECT_THAT(mixed.err, HasSubstr("task " + a + ": the server answered 409 lease is stale: task " +
                                   a + " is done"));
  EXPECT_THAT(mixed.out, ::testing::ContainsRegex(a + " +refused"));
  EXPECT_THAT(mixed.out, ::testing::ContainsRegex(c + " +scheduled"));
  EXPECT_EQ(Api("GET", "/v1/tasks/" + c)["state"], "scheduled");

  ProcessResult bare = Run({"ack", a, b + ":" + lease[b]});
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_THAT(bare.err, HasSubstr("--lease is required for a bare task id ('" + a + "')"));
  ProcessResult two_with_lease = Run({"ack", a, b, "--lease", lease[a]});
  EXPECT_EQ(two_with_lease.exit_code, 2);
  EXPECT_THAT(two_with_lease.err, HasSubstr("--lease goes with one task id"));
}

TEST_F(Cli, TopicsListsCountsPerState) {
  AddJson({"--topic", "alpha", "--in", "1h", "--payload", "1"});
  AddJson({"--topic", "alpha", "--in", "1h", "--payload", "2"});
  std::string cancelled = AddJson({"--topic", "beta", "--in", "1h", "--payload", "3"});
  ASSERT_EQ(Run({"cancel", cancelled}).exit_code, 0);
  ProcessResult r = Run({"topics"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // TOPIC SCHEDULED DUE LEASED DELIVERING DONE DEAD CANCELLED OLDEST DUE
  EXPECT_THAT(r.out, HasSubstr("TOPIC  SCHEDULED"));
  EXPECT_THAT(r.out, HasSubstr("alpha  2          0    0       0           0     0     0"));
  EXPECT_THAT(r.out, HasSubstr("beta   0          0    0       0           0     0     1"));

  ProcessResult j = Run({"topics", "--json"});
  ASSERT_EQ(j.exit_code, 0);
  EXPECT_EQ(json::parse(j.out).at("topics").as_array().size(), 2u);
}

TEST_F(Cli, TopicPauseHoldsDeliveriesAndResumeReleasesThem) {
  std::string id = AddJson({"--topic", "held", "--payload", "x"});
  ProcessResult paused = Run({"topic", "pause", "held"});
  ASSERT_EQ(paused.exit_code, 0) << paused.err;
  EXPECT_THAT(paused.out, HasSubstr("topic held paused since "));
  EXPECT_EQ(Api("GET", "/v1/topics/held")["paused"], json::value(true));
  ProcessResult listed = Run({"topics"});
  EXPECT_THAT(listed.out, HasSubstr("PAUSED"));
  EXPECT_THAT(listed.out, HasSubstr("true"));
  EXPECT_THAT(Run({"pull", "--topic", "held"}).out, HasSubstr("no task due in topic 'held'"));

  ProcessResult resumed = Run({"topic", "resume", "held", "--json"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(json::parse(resumed.out).at("paused"), json::value(false));
  EXPECT_THAT(Run({"pull", "--topic", "held"}).out, HasSubstr(id));

  ProcessResult bad = Run({"topic", "pause", "no/slash"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("is not a valid topic name"));
}

TEST_F(Cli, TasksListPagesByDueTimeAndHorizonCountsPerBucket) {
  std::string late = AddJson({"--topic", "plan", "--in", "50m", "--payload", "late"});
  std::string early = AddJson({"--topic", "plan", "--in", "90s", "--payload", "early"});
  ProcessResult first = Run({"tasks", "list", "plan", "--limit", "1"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr(early));
  EXPECT_EQ(first.out.find(late), std::string::npos) << first.out;
  size_t at = first.out.find("next page: --cursor ");
  ASSERT_NE(at, std::string::npos) << first.out;
  std::string cursor = first.out.substr(at + 20);
  cursor = cursor.substr(0, cursor.find('\n'));
  ProcessResult second = Run({"tasks", "list", "plan", "--limit", "1", "--cursor", cursor});
  EXPECT_THAT(second.out, HasSubstr(late)) << second.err;
  ProcessResult ranged = Run({"tasks", "list", "plan", "--from", "10m", "--to", "1h", "--json"});
  ASSERT_EQ(ranged.exit_code, 0) << ranged.err;
  ASSERT_TRUE(json::parse(ranged.out).is_object()) << ranged.out;
  EXPECT_EQ(json::parse(ranged.out).at("tasks").as_array().size(), 1u);

  ProcessResult horizon = Run({"horizon", "plan", "--json"});
  ASSERT_EQ(horizon.exit_code, 0) << horizon.err;
  json::value counts = json::parse(horizon.out);
  ASSERT_TRUE(counts.is_object()) << horizon.out;
  int64_t total = 0;
  for (const json::value& b : counts.at("buckets").as_array()) {
    total += b.at("count").as_int64();
  }
  EXPECT_EQ(total, 2);
  ProcessResult table = Run({"horizon", "--bucket", "hour"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("overdue"));
  ProcessResult bad = Run({"tasks", "list", "plan", "--state", "leased"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("state must be one of"));
  EXPECT_EQ(Run({"horizon", "--bucket", "day"}).exit_code, 2);
}

TEST_F(Cli, DeadListsDeadTasksAndRedrivePutsThemBack) {
  ProcessResult none = Run({"dead", "--topic", "jobs"});
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_THAT(none.out, HasSubstr("no dead tasks in topic 'jobs'"));

  std::string id = AddJson({"--topic", "jobs", "--payload", "doomed", "--max-attempts", "1"});
  json::object pulled = Api("POST", "/v1/topics/jobs/pull", "{}");
  ASSERT_EQ(pulled["tasks"].as_array().size(), 1u);
  std::string lease(pulled["tasks"].as_array()[0].at("lease").as_string());
  ASSERT_EQ(Api("POST", "/v1/tasks/" + id + "/nack", R"({"lease":")" + lease + "\"}")["state"],
            "dead");

  ProcessResult r = Run({"dead", "--topic", "jobs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("LAST ERROR"));
  EXPECT_THAT(r.out, HasSubstr(id));
  EXPECT_THAT(r.out, HasSubstr("nacked by consumer"));
  EXPECT_THAT(r.out, HasSubstr("doomed"));

  ProcessResult redriven = Run({"redrive", id});
  ASSERT_EQ(redriven.exit_code, 0) << redriven.err;
  EXPECT_EQ(Api("GET", "/v1/tasks/" + id)["state"], "due");
  EXPECT_THAT(Run({"dead", "--topic", "jobs"}).out, HasSubstr("no dead tasks"));
}

TEST_F(Cli, DeadRedriveAndDeleteTakeATopicsDeadTasksInBulk) {
  // Pulls `n` due tasks of the topic (waiting for them) and nacks them: dead at one attempt.
  auto kill = [&](size_t n) {
    for (size_t done = 0; done < n;) {
      json::object pulled = Api("POST", "/v1/topics/bulk/pull", R"({"max":100,"wait_ms":5000})");
      const json::array& tasks = pulled["tasks"].as_array();
      ASSERT_FALSE(tasks.empty()) << done << " of " << n << " came";
      for (const json::value& t : tasks) {
        Api("POST", "/v1/tasks/" + std::string(t.at("id").as_string()) + "/nack",
            R"({"lease":")" + std::string(t.at("lease").as_string()) + "\"}");
      }
      done += tasks.size();
    }
  };
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(AddJson({"--topic", "bulk", "--payload", "x", "--max-attempts", "1"}));
  }
  kill(3);
  ProcessResult some = Run({"dead", "redrive", "bulk", "--limit", "2"});
  ASSERT_EQ(some.exit_code, 0) << some.err;
  EXPECT_THAT(some.out, HasSubstr("2 dead tasks of topic 'bulk' redriven (more remain)"));
  EXPECT_EQ(Api("GET", "/v1/tasks/" + ids[0])["state"], "due");
  ProcessResult rest = Run({"dead", "redrive", "bulk"});
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_THAT(rest.out, HasSubstr("1 dead task of topic 'bulk' redriven\n"));
  EXPECT_EQ(Api("GET", "/v1/tasks/" + ids[2])["state"], "due");

  kill(3);
  ProcessResult deleted = Run({"dead", "delete", "bulk"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_THAT(deleted.out, HasSubstr("3 dead tasks of topic 'bulk' deleted"));
  EXPECT_THAT(Run({"dead", "--topic", "bulk"}).out, HasSubstr("no dead tasks"));

  EXPECT_EQ(Run({"dead", "delete", "no/slash"}).exit_code, 2);
  EXPECT_EQ(Run({"dead"}).exit_code, 2);
}

TEST_F(Cli, ServerAndTokenComeFromFlagsOrEnvironment) {
  // A server with tokens.
  std::string path = dir_.Sub("auth.yaml");
  std::ofstream(path) << "auth:\n  tokens:\n    - \"cli-admin-token-0123456\"\n";
  server_->Terminate();
  server_ = std::make_unique<ServerProcess>(dir_.Sub("data2"),
                                            std::vector<std::string>{"--config", path});
  ASSERT_TRUE(server_->Start()) << server_->last_error();

  ProcessResult refused = Run({"topics"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("401"));
  EXPECT_THAT(refused.err, HasSubstr("give a token with --token or DELAYQ_TOKEN"));

  EXPECT_EQ(Run({"topics", "--token", "cli-admin-token-0123456"}).exit_code, 0);
  EXPECT_EQ(Run({"topics"}, {{"DELAYQ_TOKEN", "cli-admin-token-0123456"}}).exit_code, 0);
  // A flag wins over the environment.
  EXPECT_EQ(Run({"topics", "--token", "wrong-token-0000000000"},
                {{"DELAYQ_TOKEN", "cli-admin-token-0123456"}})
                .exit_code,
            1);

  // DELAYQ_SERVER instead of --server.
  ProcessResult via_env =
      RunProcess({ServerProcess::BinaryPath(), "topics", "--token", "cli-admin-token-0123456"},
                 {{"DELAYQ_SERVER", Url()}});
  EXPECT_EQ(via_env.exit_code, 0) << via_env.err;

  // Nobody listening: exit 3 and what to check.
  ProcessResult unreachable =
      RunProcess({ServerProcess::BinaryPath(), "topics", "--server", "http://127.0.0.1:1"});
  EXPECT_EQ(unreachable.exit_code, 3);
  EXPECT_THAT(unreachable.err, HasSubstr("cannot reach the server at http://127.0.0.1:1"));
  EXPECT_THAT(unreachable.err, HasSubstr("set --server or DELAYQ_SERVER"));
}

}  // namespace
}  // namespace delayq
