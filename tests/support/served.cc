#include "support/served.h"

#include <fstream>

#include "support/raw_http.h"

namespace delayq::testing {

void Served::StartServer(std::vector<std::string> args) {
  server_ = std::make_unique<ServerProcess>(dir_.Sub("data"), std::move(args));
  ASSERT_TRUE(server_->Start()) << server_->last_error();
  client_ = std::make_unique<HttpClient>(server_->address());
}

void Served::StartWithConfig(const std::string& yaml, std::vector<std::string> args) {
  std::string path = dir_.Sub("delayq.yaml");
  std::ofstream(path) << yaml;
  args.insert(args.begin(), {"--config", path});
  StartServer(std::move(args));
}

boost::json::value Served::CallJson(std::string_view method, const std::string& target,
                                    const std::string& body, int* status) {
  HttpResponse response = client_->Request(method, target, body);
  if (status) *status = response.status;
  boost::system::error_code ec;
  return boost::json::parse(response.body, ec);
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
