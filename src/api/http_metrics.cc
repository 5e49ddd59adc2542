#include "api/http_metrics.h"

#include <fmt/format.h>

namespace delayq::api {

namespace {

// 100 us .. 30 s: the longest a request can take is a long poll (wait_ms <= 30 s).
std::unique_ptr<metrics::LatencyHistogram> NewLatencyHistogram() {
  return std::make_unique<metrics::LatencyHistogram>(std::vector<int64_t>{
      100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 500'000,
      1'000'000, 2'500'000, 5'000'000, 10'000'000, 30'000'000});
}

}  // namespace

void HttpMetrics::Observe(std::string_view route, std::string_view method, int status,
                          int64_t micros) {
  std::lock_guard lock(mu_);
  ++requests_[{route, method, status}];
  auto& histogram = latency_[{route, method}];
  if (!histogram) histogram = NewLatencyHistogram();
  histogram->ObserveMicros(micros);
}

void HttpMetrics::ObserveTransportError(int status) {
  std::lock_guard lock(mu_);
  ++transport_errors_[status];
}

void HttpMetrics::Render(std::string* out) const {
  std::lock_guard lock(mu_);
  *out +=
      "# HELP delayq_http_requests_total HTTP requests answered, by route pattern, method and "
      "status code.\n"
      "# TYPE delayq_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    const auto& [route, method, status] = key;
    *out += fmt::format("delayq_http_requests_total{{route=\"{}\",method=\"{}\",code=\"{}\"}} {}\n",
                        route, method, status, count);
  }
  *out +=
      "# HELP delayq_http_request_duration_seconds Time from a request's arrival at the API to "
      "its answer, by route pattern and method.\n"
      "# TYPE delayq_http_request_duration_seconds histogram\n";
  for (const auto& [key, histogram] : latency_) {
    histogram->Render("delayq_http_request_duration_seconds",
                      fmt::format("route=\"{}\",method=\"{}\"", key.first, key.second), out);
  }
  *out +=
      "# HELP delayq_http_transport_errors_total Requests refused by the HTTP layer before "
      "routing (oversize body or headers, bad framing, connection limit), by status code.\n"
      "# TYPE delayq_http_transport_errors_total counter\n";
  for (const auto& [status, count] : transport_errors_) {
    *out += fmt::format("delayq_http_transport_errors_total{{code=\"{}\"}} {}\n", status, count);
  }
}

}  // namespace delayq::api
