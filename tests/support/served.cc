#include "support/served.h"

#include "support/raw_http.h"

namespace delayq::testing {

void Served::StartServer(std::vector<std::string> args) {
  server_ = std::make_unique<ServerProcess>(dir_.Sub("data"), std::move(args));
  ASSERT_TRUE(server_->Start()) << server_->last_error();
  client_ = std::make_unique<HttpClient>(server_->address());
}

void Served::ExpectStillServing() {
  ASSERT_TRUE(ProcessAlive(server_->pid())) << "server died; log:\n" << server_->Log();
  HttpClient fresh(server_->address());
  HttpResponse health = fresh.Get("/healthz");
  EXPECT_EQ(health.status, 200) << server_->Log();
}

uint64_t Served::TasksAdded() {
  HttpResponse metrics = client_->Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  const std::string name = "\ndelayq_tasks_added_total ";
  size_t at = metrics.body.find(name);
  EXPECT_NE(at, std::string::npos) << metrics.body;
  if (at == std::string::npos) return 0;
  return std::stoull(metrics.body.substr(at + name.size()));
}

}  // namespace delayq::testing
