// The dead list in bulk, and the rates the dashboard charts beside it.

#include "api/v1_dead_bulk.h"

#include <boost/json.hpp>
#include <charconv>

#include "api/errors.h"
#include "api/v1_codec.h"

namespace delayq::api {

namespace json = boost::json;

void BulkDead(engine::Engine& engine, std::string_view topic, bool redrive,
              const http::Request& request, http::Responder respond) {
  auto body = OptionalBody(request.body, "limit (optional)");
  if (!body) return respond(MakeErrorResponse(body.error()));
  auto limit = BoundedInteger(*body, "", "limit", 1, static_cast<int64_t>(kMaxDeadBulk));
  if (!limit) return respond(MakeErrorResponse(limit.error()));
  auto answer = [respond = std::move(respond), redrive](Result<store::DeadBulkResult> result) {
    if (!result) return respond(MakeErrorResponse(result.error()));
    json::object out;
    out[redrive ? "redriven" : "deleted"] = result->count;
    out["more"] = result->more;
    respond(JsonResponse(200, out));
  };
  size_t n = static_cast<size_t>(limit->value_or(static_cast<int64_t>(kMaxDeadBulk)));
  if (redrive) {
    engine.RedriveDead(std::string(topic), n, std::move(answer));
  } else {
    engine.DeleteDead(std::string(topic), n, std::move(answer));
  }
}

http::Response RatesResponse(const engine::Engine& engine, std::string_view target) {
  int64_t seconds = 300;
  if (std::string_view text = QueryParam(target, "seconds"); !text.empty()) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || end != text.data() + text.size() || seconds < 1 ||
        seconds > engine::RateWindow::kSeconds) {
      return MakeErrorResponse(
          {Errc::kInvalidArgument,
           "seconds must be between 1 and " + std::to_string(engine::RateWindow::kSeconds)});
    }
  }
  int64_t now = engine.NowMs();
  json::array rows;
  for (const auto& s : engine.metrics().rates.Snapshot(now, seconds)) {
    json::object row;
    row["t"] = s.unix_s;
    row["added"] = s.counts[engine::RateWindow::kAdded];
    row["fired"] = s.counts[engine::RateWindow::kFired];
    row["failed"] = s.counts[engine::RateWindow::kFailed];
    rows.push_back(std::move(row));
  }
  json::object out;
  out["now_ms"] = now;
  out["seconds"] = std::move(rows);
  return http::Response{200, "application/json", json::serialize(out)};
}

}  // namespace delayq::api
