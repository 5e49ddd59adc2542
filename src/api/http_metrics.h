#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "metrics/latency_histogram.h"

namespace delayq::api {

// HTTP request counts by route pattern, method and status, and latency histograms by route
// and method. Route and method strings must have static storage (RoutePattern,
// MethodLabel), which also keeps the label sets small. Thread-safe.
class HttpMetrics {
 public:
  // One answered request: `micros` from the start of its handling to its answer.
  void Observe(std::string_view route, std::string_view method, int status, int64_t micros);
  // An error the transport answered itself (oversize body or headers, bad framing, over
  // the connection limit): no route was known.
  void ObserveTransportError(int status);

  // Exposition lines of delayq_http_requests_total, delayq_http_request_duration_seconds,
  // delayq_http_transport_errors_total.
  void Render(std::string* out) const;

 private:
  mutable std::mutex mu_;
  std::map<std::tuple<std::string_view, std::string_view, int>, uint64_t> requests_;
  std::map<std::pair<std::string_view, std::string_view>,
           std::unique_ptr<metrics::LatencyHistogram>>
      latency_;
  std::map<int, uint64_t> transport_errors_;
};

}  // namespace delayq::api
