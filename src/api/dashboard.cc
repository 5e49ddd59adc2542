#include "api/dashboard.h"

#include <boost/json.hpp>
#include <charconv>

#include "api/embedded_files.h"
#include "api/errors.h"
#include "delivery/sink.h"

namespace delayq::api {

namespace json = boost::json;

namespace {

std::string_view ContentType(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

const EmbeddedFile* FindFile(std::string_view name) {
  for (size_t i = 0; i < kEmbeddedFileCount; ++i) {
    if (name == kEmbeddedFiles[i].name) return &kEmbeddedFiles[i];
  }
  return nullptr;
}

}  // namespace

std::optional<http::Response> DashboardResponse(std::string_view method, std::string_view path) {
  std::string_view name;
  if (path == "/") {
    name = "index.html";
  } else if (path.starts_with("/ui/")) {
    name = path.substr(4);
  } else {
    return std::nullopt;
  }
  if (method != "GET" && method != "HEAD") {
    return MethodNotAllowedResponse(std::string(method), path, "GET");
  }
  const EmbeddedFile* file = FindFile(name);
  if (file == nullptr) {
    return MakeErrorResponse({Errc::kNotFound, "no dashboard file " + std::string(path)});
  }
  http::Response response(200, std::string(ContentType(name)),
                          std::string(reinterpret_cast<const char*>(file->data), file->size));
  // The page runs only its own scripts and talks only to this server: an injected
  // <script> or a link to elsewhere (a task payload is user data) cannot run or leak a token.
  response.headers.emplace_back(
      "Content-Security-Policy",
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
      "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  // The files change with the binary; revalidating each load is cheap and never stale.
  response.headers.emplace_back("Cache-Control", "no-cache");
  return response;
}

http::Response LatenessResponse(const engine::Engine& engine, std::string_view target) {
  int64_t seconds = 300;
  size_t q = target.find("?seconds=");
  if (q == std::string_view::npos) q = target.find("&seconds=");
  if (q != std::string_view::npos) {
    std::string_view text = target.substr(q + 9);
    text = text.substr(0, text.find('&'));
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || end != text.data() + text.size() || seconds < 1 ||
        seconds > engine::LatenessWindow::kSeconds) {
      return MakeErrorResponse(
          {Errc::kInvalidArgument,
           "seconds must be between 1 and " + std::to_string(engine::LatenessWindow::kSeconds)});
    }
  }
  int64_t now = engine.NowMs();
  json::array rows;
  for (const auto& s : engine.lateness().Snapshot(now, seconds)) {
    json::object row;
    row["t"] = s.unix_s;
    row["count"] = s.count;
    // Whole milliseconds, rounded: the chart draws pixels, not microseconds.
    int64_t count = static_cast<int64_t>(s.count);
    row["avg_ms"] = count == 0 ? json::value(nullptr) : json::value((s.sum_ms + count / 2) / count);
    row["max_ms"] = s.count == 0 ? json::value(nullptr) : json::value(s.max_ms);
    rows.push_back(std::move(row));
  }
  json::object out;
  out["now_ms"] = now;
  out["seconds"] = std::move(rows);
  return http::Response{200, "application/json", json::serialize(out)};
}

http::Response SinksResponse(const delivery::Sinks* sinks) {
  json::array rows;
  for (delivery::SinkKind kind : {delivery::SinkKind::kKafka, delivery::SinkKind::kRedisStream}) {
    const delivery::Sink* sink = sinks == nullptr ? nullptr : sinks->Find(kind);
    if (sink == nullptr) continue;
    const delivery::SinkMetrics& m = sinks->metrics(kind);
    std::string problem = sink->Problem();
    json::object row;
    row["sink"] = delivery::SinkKindName(kind);
    row["status"] = problem.empty() ? "available" : "unavailable";
    row["reason"] = problem.empty() ? json::value(nullptr) : json::value(problem);
    row["produced"] = m.produced.load(std::memory_order_relaxed);
    row["failed"] = m.failed.load(std::memory_order_relaxed);
    row["in_flight"] = m.in_flight.load(std::memory_order_relaxed);
    rows.push_back(std::move(row));
  }
  json::object out;
  out["sinks"] = std::move(rows);
  return http::Response{200, "application/json", json::serialize(out)};
}

}  // namespace delayq::api
