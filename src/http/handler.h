#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace delayq::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string remote;  // the client's address, "IP:PORT" ("" when unknown), for logs

  // First header with this name (case-insensitive), or "" when absent.
  std::string_view Header(std::string_view name) const;
  // The target without its query string.
  std::string_view Path() const;
};

struct Response {
  Response() = default;
  Response(int status_code, std::string type, std::string text)
      : status(status_code), content_type(std::move(type)), body(std::move(text)) {}

  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields, e.g. Allow
  // Optional: completes the answer (typically serializes its body) on the I/O thread that
  // writes it, run once before writing. Lets a store-worker callback hand over its result
  // without spending the worker's time on JSON (BENCHMARKS.md, firing profile).
  std::function<void(Response&)> finish;
};

// Call exactly once, from any thread.
using Responder = std::function<void(Response)>;

// The one interface between the transport and the product (API layer).
class Handler {
 public:
  virtual ~Handler() = default;
  virtual void Handle(Request request, Responder respond) = 0;
  // The body for an error the transport detects itself (oversize body or headers, bad
  // framing, too many connections), so that it too is in the product's format.
  virtual Response ErrorResponse(int status, std::string_view message) = 0;
};

}  // namespace delayq::http
