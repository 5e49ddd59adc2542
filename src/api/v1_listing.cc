// Listing a topic's tasks and the due horizon: query parameters checked (each error names the
// parameter and what it takes), the store read with a bounded cost, the answer encoded.

#include "api/v1_listing.h"

#include <boost/json.hpp>
#include <charconv>
#include <optional>
#include <string>

#include "api/errors.h"
#include "api/v1_codec.h"
#include "api/validate.h"

namespace delayq::api {

namespace json = boost::json;

namespace {

constexpr size_t kDefaultPage = 100;
constexpr size_t kMaxPage = 1000;
// Index entries read per page at most (the embedded store's due index holds every topic).
constexpr size_t kScanBudget = 10'000;
constexpr std::string_view kStates = "scheduled, due, dead";

std::unexpected<Error> Invalid(std::string message) {
  return Fail(Errc::kInvalidArgument, std::move(message));
}

// An optional non-negative integer query parameter.
Result<std::optional<int64_t>> QueryMs(std::string_view target, std::string_view name) {
  std::string_view text = QueryParam(target, name);
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return Invalid(std::string(name) + " must be unix milliseconds (an integer >= 0), not '" +
                   std::string(text) + "'");
  }
  return value;
}

Result<size_t> QueryLimit(std::string_view target) {
  std::string_view text = QueryParam(target, "limit");
  if (text.empty()) return kDefaultPage;
  size_t limit = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
  if (ec != std::errc() || end != text.data() + text.size() || limit < 1 || limit > kMaxPage) {
    return Invalid("limit must be a number from 1 to " + std::to_string(kMaxPage));
  }
  return limit;
}

// Cursors: "s<due_ms>_<id>" after a due-order page, "d<id>" after a dead page. Opaque to
// clients; a position, so that tasks added meanwhile never shift a page.
std::string DueCursor(const DueKey& key) {
  return "s" + std::to_string(key.due_at_ms) + "_" + std::to_string(key.id);
}

std::unexpected<Error> BadCursor(std::string_view state) {
  return Invalid("cursor must be the next_cursor of a previous answer for state=" +
                 std::string(state));
}

Result<DueKey> ParseDueCursor(std::string_view text, std::string_view state) {
  size_t sep = text.find('_');
  if (text.size() < 4 || text[0] != 's' || sep == std::string_view::npos) return BadCursor(state);
  DueKey key;
  std::string_view due = text.substr(1, sep - 1);
  std::string_view id = text.substr(sep + 1);
  auto [due_end, due_ec] = std::from_chars(due.data(), due.data() + due.size(), key.due_at_ms);
  auto [id_end, id_ec] = std::from_chars(id.data(), id.data() + id.size(), key.id);
  if (due_ec != std::errc() || due_end != due.data() + due.size() || key.due_at_ms < 0 ||
      id_ec != std::errc() || id_end != id.data() + id.size()) {
    return BadCursor(state);
  }
  return key;
}

json::object PageJson(const std::vector<Task>& tasks, std::optional<std::string> next,
                      int64_t now_ms) {
  json::array items;
  for (const Task& task : tasks) items.push_back(TaskJson(task, now_ms));
  json::object out;
  out["tasks"] = std::move(items);
  out["next_cursor"] = next ? json::value(*next) : json::value(nullptr);
  return out;
}

void ListDeadPage(engine::Engine& engine, std::string_view topic, std::string_view cursor,
                  size_t limit, http::Responder respond) {
  TaskId after = 0;
  if (!cursor.empty()) {
    auto id = cursor.size() > 1 && cursor[0] == 'd' ? ParseTaskId(cursor.substr(1))
                                                    : Result<uint64_t>(BadCursor("dead"));
    if (!id) return respond(MakeErrorResponse(BadCursor("dead").error()));
    after = *id;
  }
  auto dead = engine.ListDead(std::string(topic), after, limit);
  if (!dead) return respond(MakeErrorResponse(dead.error()));
  std::optional<std::string> next;
  if (dead->size() == limit) next = "d" + std::to_string(dead->back().id);
  respond(JsonResponse(200, PageJson(*dead, next, engine.NowMs())));
}

}  // namespace

void ListTasks(engine::Engine& engine, std::string_view topic, const http::Request& request,
               http::Responder respond) {
  std::string_view target = request.target;
  std::string_view state = QueryParam(target, "state");
  if (state.empty()) state = "scheduled";
  if (state != "scheduled" && state != "due" && state != "dead") {
    return respond(MakeErrorResponse(Invalid("state must be one of " + std::string(kStates) +
                                             ", not '" + std::string(state) +
                                             "' (leased and delivering tasks are not listed)")
                                         .error()));
  }
  auto limit = QueryLimit(target);
  if (!limit) return respond(MakeErrorResponse(limit.error()));
  std::string_view cursor = QueryParam(target, "cursor");
  if (state == "dead") return ListDeadPage(engine, topic, cursor, *limit, std::move(respond));

  auto from = QueryMs(target, "from_ms");
  if (!from) return respond(MakeErrorResponse(from.error()));
  auto to = QueryMs(target, "to_ms");
  if (!to) return respond(MakeErrorResponse(to.error()));
  if (*from && *to && **to <= **from) {
    return respond(MakeErrorResponse(
        Invalid("to_ms must be greater than from_ms (the range is from_ms <= due_at_ms < to_ms)")
            .error()));
  }
  store::ScheduledQuery query;
  query.topic = std::string(topic);
  query.from_ms = from->value_or(0);
  query.to_ms = to->value_or(kNoDeadline);
  query.limit = *limit;
  query.scan_budget = kScanBudget;
  int64_t now = engine.NowMs();
  if (state == "due") query.to_ms = std::min(query.to_ms, now + 1);
  if (!cursor.empty()) {
    auto after = ParseDueCursor(cursor, state);
    if (!after) return respond(MakeErrorResponse(after.error()));
    query.after = *after;
  }
  auto page = engine.ListScheduled(query);
  if (!page) return respond(MakeErrorResponse(page.error()));
  std::optional<std::string> next;
  if (page->next) next = DueCursor(*page->next);
  json::object out = PageJson(page->tasks, next, now);
  out["scanned"] = page->scanned;
  respond(JsonResponse(200, out));
}

void Horizon(engine::Engine& engine, std::string_view topic, const http::Request& request,
             http::Responder respond) {
  std::string_view bucket = QueryParam(request.target, "bucket");
  if (bucket.empty()) bucket = "minute";
  int64_t bucket_ms = 0;
  size_t buckets = 0;
  if (bucket == "minute") {
    bucket_ms = 60'000;
    buckets = 60;
  } else if (bucket == "hour") {
    bucket_ms = 3'600'000;
    buckets = 168;
  } else {
    return respond(MakeErrorResponse(
        Invalid("bucket must be minute (60 buckets: the next hour) or hour (168 buckets: the "
                "next 7 days), not '" +
                std::string(bucket) + "'")
            .error()));
  }
  int64_t now = engine.NowMs();
  auto counts = engine.Horizon(std::string(topic), bucket_ms, buckets, now);
  if (!counts) return respond(MakeErrorResponse(counts.error()));
  json::array items;
  bool exact = counts->overdue.exact;
  for (const store::HorizonBucket& b : counts->buckets) {
    items.push_back(json::object{{"start_ms", b.start_ms}, {"count", b.count}, {"exact", b.exact}});
    exact = exact && b.exact;
  }
  json::object out;
  if (!topic.empty()) out["topic"] = std::string(topic);
  out["bucket"] = std::string(bucket);
  out["bucket_ms"] = bucket_ms;
  out["start_ms"] = now;
  out["overdue"] = json::object{{"count", counts->overdue.count}, {"exact", counts->overdue.exact}};
  out["buckets"] = std::move(items);
  out["exact"] = exact;
  respond(JsonResponse(200, out));
}

}  // namespace delayq::api
