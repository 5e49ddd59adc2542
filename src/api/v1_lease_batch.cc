// POST /v1/tasks:ack and POST /v1/tasks:nack: a consumer ends the leases of a whole pull with
// one request, so that draining N tasks costs N / batch requests instead of N.
#include <boost/json.hpp>
#include <optional>
#include <unordered_map>
#include <vector>

#include "api/errors.h"
#include "api/json_fields.h"
#include "api/task_access.h"
#include "api/v1_api.h"
#include "api/v1_codec.h"

namespace delayq::api {

namespace json = boost::json;

namespace {

// The item list of a batch body: "acks" or "nacks", 1 to kMaxBatch objects.
Result<const json::array*> ItemList(const json::object& body, std::string_view field) {
  const json::value* items = body.if_contains(json::string_view(field.data(), field.size()));
  std::string name(field);
  if (items == nullptr) return Fail(Errc::kInvalidArgument, name + " is required");
  if (!items->is_array()) {
    return Fail(Errc::kInvalidArgument, name + " must be an array of {id, lease} objects, not " +
                                            std::string(KindName(*items)));
  }
  const json::array& array = items->get_array();
  if (array.empty() || array.size() > ApiConfig::kMaxBatch) {
    return Fail(array.empty() ? Errc::kInvalidArgument : Errc::kTooLarge,
                name + " must hold 1 to " + std::to_string(ApiConfig::kMaxBatch) + " items, not " +
                    std::to_string(array.size()));
  }
  return &array;
}

Result<TaskId> DecodeItemId(const json::object& item, const std::string& prefix) {
  auto text = RequireString(item, "id");
  if (!text) return Fail(Errc::kInvalidArgument, prefix + text.error().message);
  auto id = ParseTaskId(*text);
  if (!id) {
    return Fail(Errc::kInvalidArgument, prefix + "id must be a task id as pull returns it (a " +
                                            "positive decimal number in a string), not '" +
                                            text->substr(0, 64) + "'");
  }
  return *id;
}

// Every item checked before anything is applied: one bad item refuses the whole request.
// A task named twice is refused too: its second lease end could only be stale, and which of
// two differing ones (an ack and a nack delay) was meant is the client's bug to fix.
Result<std::vector<engine::Engine::LeaseEnd>> DecodeItems(const json::object& body, bool nack,
                                                          const ApiConfig& api_config) {
  std::string_view field = nack ? "nacks" : "acks";
  auto list = ItemList(body, field);
  if (!list) return std::unexpected(list.error());
  const json::array& array = **list;
  std::vector<engine::Engine::LeaseEnd> ends;
  ends.reserve(array.size());
  std::unordered_map<TaskId, size_t> first_at;
  for (size_t i = 0; i < array.size(); ++i) {
    std::string prefix = std::string(field) + "[" + std::to_string(i) + "].";
    if (!array[i].is_object()) {
      return Fail(Errc::kInvalidArgument, std::string(field) + "[" + std::to_string(i) +
                                              "] must be an object with id and lease");
    }
    const json::object& item = array[i].get_object();
    auto id = DecodeItemId(item, prefix);
    if (!id) return std::unexpected(id.error());
    auto lease = DecodeLease(item, prefix);
    if (!lease) return std::unexpected(lease.error());
    int64_t delay_ms = 0;
    if (nack) {
      auto delay = BoundedInteger(item, prefix, "delay_ms", 0, api_config.max_delay_ms);
      if (!delay) return std::unexpected(delay.error());
      delay_ms = delay->value_or(0);
    }
    auto [seen, fresh] = first_at.emplace(*id, i);
    if (!fresh) {
      return Fail(Errc::kInvalidArgument,
                  prefix + "id repeats " + std::string(field) + "[" + std::to_string(seen->second) +
                      "].id (task " + std::to_string(*id) + "): name each task once per request");
    }
    ends.push_back({*id, *lease, nack, delay_ms});
  }
  return ends;
}

json::object ItemError(TaskId id, const Error& error) {
  json::object out;
  out["id"] = std::to_string(id);
  out["error"] =
      json::object{{"code", MapError(error.code).http_status}, {"message", error.message}};
  return out;
}

}  // namespace

void SettleLeases(engine::Engine& engine, const ApiConfig& api_config, const Principal* who,
                  bool nack, const http::Request& request, http::Responder respond) {
  auto body = ParseBodyObject(request.body, nack ? "nacks (an array of {id, lease, delay_ms})"
                                                 : "acks (an array of {id, lease})");
  if (!body) return respond(MakeErrorResponse(body.error()));
  auto items = DecodeItems(*body, nack, api_config);
  if (!items) return respond(MakeErrorResponse(items.error()));

  // Rights per item, as the single routes check them; only a topic token needs the task read
  // (an admin's or an open server's unknown ids are refused by the store as they are there).
  std::vector<TaskId> ids;
  std::vector<std::optional<Error>> refused(items->size());
  std::vector<engine::Engine::LeaseEnd> ends;
  std::vector<size_t> sent;  // ends[k] is item sent[k]
  ids.reserve(items->size());
  ends.reserve(items->size());
  sent.reserve(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    const engine::Engine::LeaseEnd& end = (*items)[i];
    ids.push_back(end.id);
    if (who != nullptr && !who->admin) {
      if (auto task = TaskForCaller(engine, who, Right::kConsume, end.id); !task) {
        refused[i] = task.error();
        continue;
      }
    }
    ends.push_back(end);
    sent.push_back(i);
  }
  auto answer = [&engine, respond = std::move(respond), ids = std::move(ids),
                 refused = std::move(refused),
                 sent = std::move(sent)](Result<std::vector<Result<Task>>> settled) mutable {
    if (!settled) return respond(MakeErrorResponse(settled.error()));
    // Built on the I/O thread: this callback runs on the store worker.
    std::vector<Result<Task>> outcomes;
    outcomes.reserve(settled->size());
    for (Result<Task>& outcome : *settled) outcomes.push_back(std::move(outcome));
    respond(DeferredJson(
        200, [ids = std::move(ids), refused = std::move(refused), sent = std::move(sent),
              outcomes = std::move(outcomes), now = engine.NowMs()] {
          std::vector<const Result<Task>*> by_item(ids.size(), nullptr);
          for (size_t k = 0; k < sent.size(); ++k) by_item[sent[k]] = &outcomes[k];
          json::array results;
          results.reserve(ids.size());
          for (size_t i = 0; i < ids.size(); ++i) {
            if (refused[i]) {
              results.push_back(ItemError(ids[i], *refused[i]));
            } else if (!*by_item[i]) {
              results.push_back(ItemError(ids[i], by_item[i]->error()));
            } else {
              results.push_back(json::object{{"id", std::to_string(ids[i])},
                                             {"state", VisibleState(**by_item[i], now)}});
            }
          }
          return json::object{{"results", std::move(results)}};
        }));
  };
  engine.SettleMany(std::move(ends), std::move(answer));
}

}  // namespace delayq::api
