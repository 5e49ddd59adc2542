// What a careless or hostile client sends to the native v1 API, against
// the real binary: every malformed request to every v1 endpoint gets a clear 4xx with a
// dm_error and an error_msg that names the offending field (or the task id or topic in the
// path), transport garbage never takes the server down, and nothing already stored is touched.
//
// HTTP status and dm_error (src/api/errors.cc): invalid -> 400/1, too large -> 413/1,
// not found -> 404/2, wrong method -> 405/1, wrong state or stale lease -> 409/1.
//
// Every server of this suite is started with explicit payload and body limits (ServerArgs), so
// that the sizes of the big-payload cases below are pinned: a 200,000-element array of "0" is
// 400,001 bytes (stored), one of "12345" is 1,200,001 bytes (413).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "support/http_client.h"
#include "support/integration.h"
#include "support/raw_http.h"
#include "support/served.h"
#include "support/server_process.h"
#include "support/temp_dir.h"
#include "support/test_util.h"

namespace delayq {
namespace {

using namespace delayq::integration;
using testing::ExchangeUntilClosed;
using testing::ExpectTransportError;
using testing::JsonQuoted;
using testing::ProcessAlive;
using testing::RequestHead;
using testing::RequestWithJsonBody;
namespace json = boost::json;

constexpr size_t kMaxPayloadBytes = 1 << 20;  // the documented default, pinned
constexpr size_t kMaxBodyBytes = 8 << 20;     // the documented default, pinned
constexpr size_t kMaxHeaderBytes = 16 << 10;  // the server's default
// limits.max_delay (default 732 days) in milliseconds.
constexpr int64_t kMaxDelayMs = 2LL * 366 * 24 * 3600 * 1000;

// The seeded tasks: two due and one scheduled task here (most bad requests aim at this topic),
// a leased task and a done task in topics of their own.
constexpr const char* kTopic = "keep";
constexpr const char* kHeldTopic = "held";
constexpr const char* kDoneTopic = "finished";
// Valid adds made on purpose (a big payload, a pipelined add) go here, never to kTopic.
constexpr const char* kOtherTopic = "elsewhere";
// Snowflake ids are far larger: this id is never stored.
constexpr const char* kUnknownId = "12345";

std::vector<std::string> ServerArgs() {
  return {"--limits-max-payload-bytes", std::to_string(kMaxPayloadBytes), "--limits-max-body-bytes",
          std::to_string(kMaxBodyBytes)};
}

// Replaces every {name} of `vars` in `text`.
std::string Expand(std::string text, const std::map<std::string, std::string>& vars) {
  for (const auto& [name, value] : vars) {
    const std::string token = "{" + name + "}";
    for (size_t at = text.find(token); at != std::string::npos;
         at = text.find(token, at + value.size())) {
      text.replace(at, token.size(), value);
    }
  }
  return text;
}

// {"payload":"x", <fields>}: a single add that is valid but for `fields`.
std::string With(const std::string& fields) { return R"({"payload":"x",)" + fields + "}"; }

// {"tasks":[<items>]}
std::string Batch(const std::vector<std::string>& items) {
  std::string body = R"({"tasks":[)";
  for (size_t i = 0; i < items.size(); ++i) body += (i ? "," : "") + items[i];
  return body + "]}";
}

// {"acks":[<items>]}
std::string Acks(const std::vector<std::string>& items) {
  std::string body = R"({"acks":[)";
  for (size_t i = 0; i < items.size(); ++i) body += (i ? "," : "") + items[i];
  return body + "]}";
}

// A JSON array of `count` copies of `element`.
std::string ArrayOf(size_t count, const std::string& element) {
  std::string out = "[";
  out.reserve(count * (element.size() + 1) + 2);
  for (size_t i = 0; i < count; ++i) {
    if (i) out += ',';
    out += element;
  }
  return out + "]";
}

// One request a bad client sends, and what it must get back. target, body and error_mentions
// may hold the placeholders of BadV1Input::Vars(): {scheduled}, {leased}, {lease},
// {stale_lease}, {done}, {done_lease}.
struct BadRequest {
  std::string name;
  std::string method;
  std::string target;
  std::string body;
  int expected_status;
  int expected_dm_error;
  std::string error_mentions;  // error_msg must contain this (the offending field)
};

void PrintTo(const BadRequest& request, std::ostream* out) { *out << request.name; }

std::vector<BadRequest> BadRequests() {
  const std::string add = "/v1/topics/" + std::string(kTopic) + "/tasks";
  const std::string batch = add + ":batch";
  const std::string pull = "/v1/topics/" + std::string(kTopic) + "/pull";
  const std::string dead = "/v1/topics/" + std::string(kTopic) + "/dead";
  const std::string unknown = kUnknownId;
  auto task = [](const std::string& id, const std::string& action = "") {
    return "/v1/tasks/" + id + (action.empty() ? "" : "/" + action);
  };
  const std::string ok_item = R"({"payload":"ok"})";
  const std::string beyond_max_delay = std::to_string(kMaxDelayMs + 1);
  const std::string ten_years_ahead_ms =
      std::to_string(WallClockMs() + 10LL * 366 * 24 * 3600 * 1000);
  const std::string topic_129(129, 't');
  const std::string nested = std::string(10000, '[') + std::string(10000, ']');
  const std::string over_limit_array = ArrayOf(200000, "12345");  // 1,200,001 bytes
  const std::string callback_url = R"("url":"http://127.0.0.1:9/cb")";
  std::vector<std::string> items_1001(1001, ok_item);
  // The seeded leased task with its real lease: applied if a refused batch applied anything.
  const std::string leased_item = R"({"id":"{leased}","lease":"{lease}"})";
  std::vector<std::string> acks_1001(1001, leased_item);
  std::vector<std::string> bad_in_the_middle(5, ok_item);
  bad_in_the_middle[2] = R"({"payload":"ok","delay_ms":-4})";

  return {
      // --- POST /v1/topics/{topic}/tasks: the body ---
      {"AddEmptyBody", "POST", add, "", 400, 1, "body"},
      {"AddBodyIsArray", "POST", add, "[" + ok_item + "]", 400, 1, "body"},
      {"AddTruncatedJson", "POST", add, R"({"payload":"x","delay_ms":)", 400, 1, "body"},
      {"AddDeeplyNestedPayload", "POST", add, R"({"payload":)" + nested + "}", 400, 1,
       "not valid JSON"},
      {"AddInvalidUtf8C328InPayload", "POST", add, "{\"payload\":\"ab\xC3(cd\"}", 400, 1,
       "not valid JSON"},
      {"AddOverlongUtf8InPayload", "POST", add, "{\"payload\":\"\xC0\xAF\"}", 400, 1,
       "not valid JSON"},
      {"AddUtf8EncodedSurrogateInDedupKey", "POST", add, With("\"dedup_key\":\"\xED\xA0\x80\""),
       400, 1, "not valid JSON"},

      // --- payload ---
      {"AddPayloadMissing", "POST", add, R"({"delay_ms":5})", 400, 1, "payload"},
      {"AddPayloadStringOverLimit", "POST", add,
       R"({"payload":)" + JsonQuoted(std::string(kMaxPayloadBytes + 1, 'p')) + "}", 413, 1,
       "payload is 1048577 bytes"},
      {"AddPayload200000ElementArrayOverLimit", "POST", add,
       R"({"payload":)" + over_limit_array + "}", 413, 1, "payload is 1200001 bytes"},

      // --- delay_ms, at_ms, at ---
      {"AddDelayMsNegative", "POST", add, With(R"("delay_ms":-1)"), 400, 1, "delay_ms"},
      {"AddDelayMsString", "POST", add, With(R"("delay_ms":"1000")"), 400, 1, "delay_ms"},
      {"AddDelayMsBeyondMaxDelay", "POST", add, With("\"delay_ms\":" + beyond_max_delay), 400, 1,
       "delay_ms"},
      {"AddDelayMsFraction", "POST", add, With(R"("delay_ms":1.5)"), 400, 1, "delay_ms"},
      {"AddDelayMsNull", "POST", add, With(R"("delay_ms":null)"), 400, 1, "delay_ms"},
      {"AddDelayMsExponentOverflow1e999", "POST", add, With(R"("delay_ms":1e999)"), 400, 1,
       "delay_ms"},
      {"AddDelayMs30Digits", "POST", add, With(R"("delay_ms":123456789012345678901234567890)"), 400,
       1, "delay_ms"},
      {"AddDelayMsUint64Max", "POST", add, With(R"("delay_ms":18446744073709551615)"), 400, 1,
       "delay_ms"},
      {"AddDelayMsAndAtMs", "POST", add, With(R"("delay_ms":5,"at_ms":5)"), 400, 1,
       "give only one of delay_ms, at_ms, at"},
      {"AddAtMsAndAt", "POST", add, With(R"("at_ms":5,"at":"2027-01-01T00:00:00Z")"), 400, 1,
       "give only one of delay_ms, at_ms, at"},
      {"AddDelayMsAtMsAndAt", "POST", add,
       With(R"("delay_ms":5,"at_ms":5,"at":"2027-01-01T00:00:00Z")"), 400, 1,
       "give only one of delay_ms, at_ms, at"},
      {"AddAtMsNegative", "POST", add, With(R"("at_ms":-1)"), 400, 1, "at_ms"},
      {"AddAtMsString", "POST", add, With(R"("at_ms":"1795677623283")"), 400, 1, "at_ms"},
      {"AddAtMsTenYearsAhead", "POST", add, With("\"at_ms\":" + ten_years_ahead_ms), 400, 1,
       "at_ms"},
      {"AddAtWithoutZone", "POST", add, With(R"("at":"2027-01-01T20:00:00")"), 400, 1, "at must"},
      {"AddAtMonth13", "POST", add, With(R"("at":"2027-13-01T20:00:00Z")"), 400, 1, "at must"},
      {"AddAtFebruary30", "POST", add, With(R"("at":"2027-02-30T20:00:00Z")"), 400, 1, "at must"},
      {"AddAtLetters", "POST", add, With(R"("at":"abcd-ef-ghTij:kl:mnZ")"), 400, 1, "at must"},
      {"AddAtWords", "POST", add, With(R"("at":"tomorrow at noon")"), 400, 1, "at must"},
      {"AddAtDateOnly", "POST", add, With(R"("at":"2027-01-01")"), 400, 1, "at must"},
      {"AddAtHour24", "POST", add, With(R"("at":"2027-01-01T24:00:00Z")"), 400, 1, "at must"},
      {"AddAtOffsetWithoutColon", "POST", add, With(R"("at":"2027-01-01T20:00:00+0800")"), 400, 1,
       "at must"},
      {"AddAtNumber", "POST", add, With(R"("at":1795677623)"), 400, 1, "at must be a string"},
      {"AddAtBeforeTheEpoch", "POST", add, With(R"("at":"0001-01-01T00:00:00Z")"), 400, 1,
       "at must not be negative"},
      {"AddAtYear2999", "POST", add, With(R"("at":"2999-01-01T00:00:00Z")"), 400, 1,
       "at is too far in the future"},

      // --- max_attempts, dedup_key ---
      {"AddMaxAttemptsZero", "POST", add, With(R"("max_attempts":0)"), 400, 1, "max_attempts"},
      {"AddMaxAttempts1001", "POST", add, With(R"("max_attempts":1001)"), 400, 1, "max_attempts"},
      {"AddMaxAttemptsFraction", "POST", add, With(R"("max_attempts":2.5)"), 400, 1,
       "max_attempts"},
      {"AddMaxAttemptsString", "POST", add, With(R"("max_attempts":"3")"), 400, 1, "max_attempts"},
      {"AddDedupKeyEmpty", "POST", add, With(R"("dedup_key":"")"), 400, 1, "dedup_key"},
      {"AddDedupKey257Bytes", "POST", add,
       With("\"dedup_key\":" + JsonQuoted(std::string(257, 'k'))), 400, 1, "dedup_key"},
      {"AddDedupKeyNumber", "POST", add, With(R"("dedup_key":42)"), 400, 1, "dedup_key"},
      {"AddDedupKeyObject", "POST", add, With(R"("dedup_key":{"k":1})"), 400, 1, "dedup_key"},

      // --- callback ---
      {"AddCallbackString", "POST", add, With(R"("callback":"http://127.0.0.1:9/cb")"), 400, 1,
       "callback must be an object"},
      {"AddCallbackEmptyObject", "POST", add, With(R"("callback":{})"), 400, 1, "callback"},
      {"AddCallbackRelativeUrl", "POST", add, With(R"("callback":{"url":"/cb"})"), 400, 1,
       "callback.url"},
      {"AddCallbackFtpUrl", "POST", add, With(R"("callback":{"url":"ftp://127.0.0.1/cb"})"), 400, 1,
       "callback.url"},
      {"AddCallbackUrlPort0", "POST", add, With(R"("callback":{"url":"http://127.0.0.1:0/cb"})"),
       400, 1, "callback.url"},
      {"AddCallbackUrlNumber", "POST", add, With(R"("callback":{"url":5})"), 400, 1,
       "callback.url"},
      {"AddCallbackUnknownService", "POST", add,
       With(R"("callback":{"service":"nobody","path":"/cb"})"), 400, 1, "callback.service"},
      {"AddCallbackPathWithoutSlash", "POST", add,
       With(R"("callback":{"service":"nobody","path":"cb"})"), 400, 1, "callback.path"},
      {"AddCallbackUrlAndService", "POST", add,
       With(R"("callback":{)" + callback_url + R"(,"service":"nobody"})"), 400, 1, "callback"},
      {"AddCallbackMethodTrace", "POST", add,
       With(R"("callback":{)" + callback_url + R"(,"method":"TRACE"})"), 400, 1, "callback.method"},
      {"AddCallbackHeaderInjection", "POST", add,
       With(R"("callback":{)" + callback_url + R"(,"headers":{"X-A":"a\r\nInjected: 1"}})"), 400, 1,
       "callback.headers.X-A"},
      {"AddCallbackReservedHeader", "POST", add,
       With(R"("callback":{)" + callback_url + R"(,"headers":{"X-Delayq-Attempt":"9"}})"), 400, 1,
       "callback.headers.X-Delayq-Attempt"},
      {"AddCallbackTimeoutTooSmall", "POST", add,
       With(R"("callback":{)" + callback_url + R"(,"timeout_ms":50})"), 400, 1,
       "callback.timeout_ms"},
      {"AddCallbackUnknownField", "POST", add,
       With(R"("callback":{)" + callback_url + R"(,"retries":3})"), 400, 1, "callback"},

      // --- POST /v1/topics/{topic}/tasks:batch ---
      {"BatchEmptyBody", "POST", batch, "", 400, 1, "body"},
      {"BatchTasksMissing", "POST", batch, R"({"task":[{"payload":1}]})", 400, 1,
       "tasks is required"},
      {"BatchTasksIsObject", "POST", batch, R"({"tasks":{"payload":1}})", 400, 1,
       "tasks must be an array"},
      {"BatchTasksIsString", "POST", batch, R"({"tasks":"[]"})", 400, 1, "tasks must be an array"},
      {"BatchTasksEmpty", "POST", batch, R"({"tasks":[]})", 400, 1, "tasks must hold 1 to 1000"},
      {"Batch1001Tasks", "POST", batch, Batch(items_1001), 413, 1, "tasks must hold 1 to 1000"},
      {"BatchItemIsNumber", "POST", batch, Batch({ok_item, "5"}), 400, 1,
       "tasks[1] must be an object"},
      {"BatchItemIsString", "POST", batch, Batch({ok_item, ok_item, R"("payload")"}), 400, 1,
       "tasks[2] must be an object"},
      {"BatchInvalidItemInTheMiddle", "POST", batch, Batch(bad_in_the_middle), 400, 1,
       "tasks[2].delay_ms"},
      {"BatchItemPayloadMissing", "POST", batch, Batch({ok_item, R"({"delay_ms":5})"}), 400, 1,
       "tasks[1].payload is required"},
      {"BatchItemPayloadOverLimit", "POST", batch,
       Batch(
           {ok_item, R"({"payload":)" + JsonQuoted(std::string(kMaxPayloadBytes + 1, 'p')) + "}"}),
       413, 1, "tasks[1].payload"},
      {"BatchItemTwoTimes", "POST", batch, Batch({ok_item, With(R"("delay_ms":5,"at_ms":5)")}), 400,
       1, "tasks[1].delay_ms"},
      {"BatchItemAtMalformed", "POST", batch,
       Batch({ok_item, ok_item, ok_item, With(R"("at":"2027-02-30T00:00:00Z")")}), 400, 1,
       "tasks[3].at"},
      {"BatchItemDelayMsString", "POST", batch, Batch({ok_item, With(R"("delay_ms":"5")")}), 400, 1,
       "tasks[1].delay_ms"},
      {"BatchItemMaxAttemptsFraction", "POST", batch,
       Batch({ok_item, With(R"("max_attempts":2.5)")}), 400, 1, "tasks[1].max_attempts"},
      {"BatchItemDedupKeyNumber", "POST", batch, Batch({ok_item, With(R"("dedup_key":7)")}), 400, 1,
       "tasks[1].dedup_key"},
      {"BatchItemCallbackMethod", "POST", batch,
       Batch({ok_item, With(R"("callback":{)" + callback_url + R"(,"method":"TRACE"})")}), 400, 1,
       "tasks[1].callback.method"},

      // --- POST /v1/topics/{topic}/pull ---
      {"PullBodyIsArray", "POST", pull, "[]", 400, 1, "body"},
      {"PullInvalidJson", "POST", pull, R"({"max":)", 400, 1, "body"},
      {"PullMaxZero", "POST", pull, R"({"max":0})", 400, 1, "max must be between 1 and 1000"},
      {"PullMax1001", "POST", pull, R"({"max":1001})", 400, 1, "max must be between 1 and 1000"},
      {"PullMaxString", "POST", pull, R"({"max":"5"})", 400, 1, "max must be an integer"},
      {"PullMaxFraction", "POST", pull, R"({"max":2.5})", 400, 1, "max"},
      {"PullWaitMs30001", "POST", pull, R"({"wait_ms":30001})", 400, 1, "wait_ms"},
      {"PullWaitMsNegative", "POST", pull, R"({"wait_ms":-1})", 400, 1, "wait_ms"},
      {"PullLeaseMs50", "POST", pull, R"({"lease_ms":50})", 400, 1, "lease_ms"},
      {"PullLeaseMsOver12Hours", "POST", pull, R"({"lease_ms":43200001})", 400, 1, "lease_ms"},
      {"PullLeaseMsBool", "POST", pull, R"({"lease_ms":true})", 400, 1, "lease_ms"},

      // --- GET and DELETE /v1/tasks/{id} ---
      {"GetTaskIdZero", "GET", task("0"), "", 400, 1, "task id in the path"},
      {"GetTaskIdLetters", "GET", task("abc"), "", 400, 1, "task id in the path"},
      {"GetTaskId20Digits", "GET", task("99999999999999999999"), "", 400, 1, "task id in the path"},
      {"GetTaskIdNegative", "GET", task("-5"), "", 400, 1, "task id in the path"},
      {"GetTaskIdHex", "GET", task("0x10"), "", 400, 1, "task id in the path"},
      {"GetTaskIdWithPercentEncodedDigit", "GET", task("%31"), "", 400, 1, "task id in the path"},
      {"GetUnknownTask", "GET", task(unknown), "", 404, 2, "task " + unknown + " not found"},
      {"DeleteTaskIdLetters", "DELETE", task("abc"), "", 400, 1, "task id in the path"},
      {"DeleteUnknownTask", "DELETE", task(unknown), "", 404, 2, "task " + unknown + " not found"},
      {"DeleteDoneTask", "DELETE", task("{done}"), "", 409, 1,
       "task {done} cannot be cancelled: it is done"},
      {"DeleteLeasedTask", "DELETE", task("{leased}"), "", 409, 1,
       "task {leased} cannot be cancelled: it is leased"},
      {"PutTask", "PUT", task("{scheduled}"), ok_item, 405, 1, "GET, DELETE"},
      {"PostTask", "POST", task("{scheduled}"), ok_item, 405, 1, "GET, DELETE"},

      // --- POST /v1/tasks/{id}/ack ---
      {"AckEmptyBody", "POST", task("{leased}", "ack"), "", 400, 1, "body"},
      {"AckWithoutLease", "POST", task("{leased}", "ack"), "{}", 400, 1, "lease is required"},
      {"AckLeaseNull", "POST", task("{leased}", "ack"), R"({"lease":null})", 400, 1, "lease"},
      {"AckLeaseNumber", "POST", task("{leased}", "ack"), R"({"lease":12})", 400, 1,
       "lease must be a string"},
      {"AckLeaseNotHex", "POST", task("{leased}", "ack"), R"({"lease":"not-a-lease"})", 400, 1,
       "lease must be the lease string returned by pull"},
      {"AckLeaseZero", "POST", task("{leased}", "ack"), R"({"lease":"0000000000000000"})", 400, 1,
       "lease must be the lease string returned by pull"},
      {"AckLease17HexDigits", "POST", task("{leased}", "ack"), R"({"lease":"1{lease}"})", 400, 1,
       "lease must be the lease string returned by pull"},
      {"AckStaleLease", "POST", task("{leased}", "ack"), R"({"lease":"{stale_lease}"})", 409, 1,
       "lease is stale: task {leased} is leased under another lease"},
      {"AckDoneTaskAgain", "POST", task("{done}", "ack"), R"({"lease":"{done_lease}"})", 409, 1,
       "lease is stale: task {done} is done"},
      {"AckScheduledTask", "POST", task("{scheduled}", "ack"), R"({"lease":"{lease}"})", 409, 1,
       "lease is stale: task {scheduled} is scheduled"},
      {"AckUnknownTask", "POST", task(unknown, "ack"), R"({"lease":"{lease}"})", 404, 2,
       "task " + unknown + " not found"},
      {"AckTaskIdNegative", "POST", task("-1", "ack"), R"({"lease":"{lease}"})", 400, 1,
       "task id in the path"},
      {"GetOnAck", "GET", task("{leased}", "ack"), "", 405, 1, "use POST"},

      // --- POST /v1/tasks/{id}/nack (with the real lease: the checks come first) ---
      {"NackWithoutLease", "POST", task("{leased}", "nack"), R"({"delay_ms":5})", 400, 1,
       "lease is required"},
      {"NackDelayMsNegative", "POST", task("{leased}", "nack"),
       R"({"lease":"{lease}","delay_ms":-1})", 400, 1, "delay_ms must be between 0 and"},
      {"NackDelayMsString", "POST", task("{leased}", "nack"),
       R"({"lease":"{lease}","delay_ms":"5"})", 400, 1, "delay_ms"},
      {"NackDelayMsBeyondMaxDelay", "POST", task("{leased}", "nack"),
       R"({"lease":"{lease}","delay_ms":)" + beyond_max_delay + "}", 400, 1, "delay_ms"},
      {"NackStaleLease", "POST", task("{leased}", "nack"), R"({"lease":"{stale_lease}"})", 409, 1,
       "lease is stale"},

      // --- POST /v1/tasks:ack and /v1/tasks:nack: each has the real {leased} item first, so a
      // refused batch that applied anything would show in StoredTasksSurvive... ---
      {"BatchAckEmptyBody", "POST", "/v1/tasks:ack", "", 400, 1, "acks"},
      {"BatchAckNotJson", "POST", "/v1/tasks:ack", R"({"acks":[{"id":)", 400, 1, "not valid JSON"},
      {"BatchAckBodyIsArray", "POST", "/v1/tasks:ack", "[" + leased_item + "]", 400, 1,
       "JSON object with acks"},
      {"BatchAckWithoutAcks", "POST", "/v1/tasks:ack", R"({"nacks":[)" + leased_item + "]}", 400, 1,
       "acks is required"},
      {"BatchAckAcksNotArray", "POST", "/v1/tasks:ack", R"({"acks":)" + leased_item + "}", 400, 1,
       "acks must be an array"},
      {"BatchAckEmptyAcks", "POST", "/v1/tasks:ack", R"({"acks":[]})", 400, 1,
       "acks must hold 1 to 1000 items, not 0"},
      {"BatchAck1001Items", "POST", "/v1/tasks:ack", Acks(acks_1001), 413, 1,
       "acks must hold 1 to 1000 items, not 1001"},
      {"BatchAckItemNotObject", "POST", "/v1/tasks:ack", Acks({leased_item, R"("{leased}")"}), 400,
       1, "acks[1] must be an object"},
      {"BatchAckItemWithoutId", "POST", "/v1/tasks:ack",
       Acks({leased_item, R"({"lease":"{lease}"})"}), 400, 1, "acks[1].id is required"},
      {"BatchAckItemIdNumber", "POST", "/v1/tasks:ack",
       Acks({leased_item, R"({"id":5,"lease":"{lease}"})"}), 400, 1, "acks[1].id must be a string"},
      {"BatchAckItemIdNotDecimal", "POST", "/v1/tasks:ack",
       Acks({leased_item, R"({"id":"0x10","lease":"{lease}"})"}), 400, 1,
       "acks[1].id must be a task id"},
      {"BatchAckItemWithoutLease", "POST", "/v1/tasks:ack",
       Acks({leased_item, R"({"id":"{scheduled}"})"}), 400, 1, "acks[1].lease is required"},
      {"BatchAckItemLeaseNumber", "POST", "/v1/tasks:ack",
       Acks({leased_item, R"({"id":"{scheduled}","lease":12})"}), 400, 1,
       "acks[1].lease must be a string"},
      {"BatchAckItemLeaseNotHex", "POST", "/v1/tasks:ack",
       Acks({leased_item, R"({"id":"{scheduled}","lease":"zz"})"}), 400, 1,
       "acks[1].lease must be the lease string returned by pull"},
      {"BatchAckDuplicateId", "POST", "/v1/tasks:ack", Acks({leased_item, leased_item}), 400, 1,
       "acks[1].id repeats acks[0].id"},
      {"GetOnBatchAck", "GET", "/v1/tasks:ack", "", 405, 1, "use POST"},
      {"BatchNackWithoutNacks", "POST", "/v1/tasks:nack", R"({"acks":[)" + leased_item + "]}", 400,
       1, "nacks is required"},
      {"BatchNackItemDelayNegative", "POST", "/v1/tasks:nack",
       R"({"nacks":[)" + leased_item + R"(,{"id":"{scheduled}","lease":"{lease}","delay_ms":-1}]})",
       400, 1, "nacks[1].delay_ms must be between 0 and"},
      {"BatchNackItemDelayString", "POST", "/v1/tasks:nack",
       R"({"nacks":[{"id":"{leased}","lease":"{lease}","delay_ms":"5"}]})", 400, 1,
       "nacks[0].delay_ms"},
      {"BatchNackItemDelayBeyondMaxDelay", "POST", "/v1/tasks:nack",
       R"({"nacks":[{"id":"{leased}","lease":"{lease}","delay_ms":)" + beyond_max_delay + "}]}",
       400, 1, "nacks[0].delay_ms must be between 0 and"},
      {"BatchNackDuplicateId", "POST", "/v1/tasks:nack",
       R"({"nacks":[)" + leased_item + "," + leased_item + "]}", 400, 1,
       "nacks[1].id repeats nacks[0].id"},

      // --- POST /v1/tasks/{id}/reschedule ---
      {"RescheduleEmptyBody", "POST", task("{scheduled}", "reschedule"), "", 400, 1, "body"},
      {"RescheduleNoField", "POST", task("{scheduled}", "reschedule"), "{}", 400, 1,
       "reschedule needs one of delay_ms, at_ms, at or now: true"},
      {"RescheduleOnlyNowFalse", "POST", task("{scheduled}", "reschedule"), R"({"now":false})", 400,
       1, "reschedule needs one of delay_ms, at_ms, at or now: true"},
      {"RescheduleNowTruePlusDelayMs", "POST", task("{scheduled}", "reschedule"),
       R"({"now":true,"delay_ms":5})", 400, 1,
       "give either now: true or one of delay_ms, at_ms, at"},
      {"RescheduleNowString", "POST", task("{scheduled}", "reschedule"), R"({"now":"yes"})", 400, 1,
       "now must be true or false"},
      {"RescheduleDelayMsNegative", "POST", task("{scheduled}", "reschedule"), R"({"delay_ms":-1})",
       400, 1, "delay_ms"},
      {"RescheduleAtMalformed", "POST", task("{scheduled}", "reschedule"),
       R"({"at":"2027-01-01 20:00"})", 400, 1, "at must"},
      {"RescheduleTwoTimes", "POST", task("{scheduled}", "reschedule"),
       R"({"delay_ms":5,"at":"2027-01-01T00:00:00Z"})", 400, 1,
       "give only one of delay_ms, at_ms, at"},
      {"RescheduleLeasedTask", "POST", task("{leased}", "reschedule"), R"({"delay_ms":5})", 409, 1,
       "task {leased} cannot be rescheduled"},
      {"RescheduleDoneTask", "POST", task("{done}", "reschedule"), R"({"now":true})", 409, 1,
       "task {done} cannot be rescheduled"},
      {"RescheduleUnknownTask", "POST", task(unknown, "reschedule"), R"({"now":true})", 404, 2,
       "task " + unknown + " not found"},

      // --- POST /v1/tasks/{id}/redrive ---
      {"RedriveScheduledTask", "POST", task("{scheduled}", "redrive"), "", 409, 1,
       "task {scheduled} is scheduled; only dead tasks can be redriven"},
      {"RedriveDoneTask", "POST", task("{done}", "redrive"), "", 409, 1,
       "only dead tasks can be redriven"},
      {"RedriveUnknownTask", "POST", task(unknown, "redrive"), "", 404, 2,
       "task " + unknown + " not found"},
      {"RedriveTaskId20Digits", "POST", task("99999999999999999999", "redrive"), "", 400, 1,
       "task id in the path"},
      {"DeleteOnRedrive", "DELETE", task("{scheduled}", "redrive"), "", 405, 1, "use POST"},

      // --- unknown task sub-paths ---
      {"UnknownTaskAction", "POST", task("{scheduled}", "frob"), "{}", 404, 2, "frob"},
      {"TaskPathTooDeep", "POST", task("{scheduled}", "ack/again"), "{}", 404, 2, "no route"},
      {"TaskIdMissing", "GET", "/v1/tasks/", "", 404, 2, "no route"},
      {"EmptyTaskIdBeforeAction", "POST", "/v1/tasks//ack", R"({"lease":"{lease}"})", 400, 1,
       "task id in the path"},

      // --- topics in the path ---
      {"AddToTopicWithPercentEncodedSpace", "POST", "/v1/topics/order%20timeout/tasks", ok_item,
       400, 1, "topic in the path may contain only"},
      {"AddToTopic129Characters", "POST", "/v1/topics/" + topic_129 + "/tasks", ok_item, 400, 1,
       "topic in the path is 129 characters long"},
      {"BatchToTopicWithPercentEncodedSlash", "POST", "/v1/topics/a%2Fb/tasks:batch",
       Batch({ok_item}), 400, 1, "topic in the path"},
      {"PullFromTopicWithBraces", "POST", "/v1/topics/%7Bt%7D/pull", "{}", 400, 1,
       "topic in the path"},
      {"AddToEmptyTopic", "POST", "/v1/topics//tasks", ok_item, 400, 1,
       "topic in the path must not be empty"},

      // --- GET /v1/topics, GET /v1/topics/{topic} ---
      {"PostTopics", "POST", "/v1/topics", "{}", 405, 1, "use GET"},
      {"DeleteTopics", "DELETE", "/v1/topics", "", 405, 1, "use GET"},
      {"GetTopicWithPercentEncodedSpace", "GET", "/v1/topics/order%20timeout", "", 400, 1,
       "topic in the path"},
      {"GetTopic129Characters", "GET", "/v1/topics/" + topic_129, "", 400, 1,
       "topic in the path is 129 characters long"},
      {"GetTopicWithNoTasks", "GET", "/v1/topics/nosuch", "", 404, 2, "topic 'nosuch'"},
      {"DeleteTopic", "DELETE", "/v1/topics/" + std::string(kTopic), "", 405, 1, "use GET"},
      {"UnknownTopicSubPath", "GET", "/v1/topics/" + std::string(kTopic) + "/frob", "", 404, 2,
       "no route"},
      {"PutOnTasksOfATopic", "PUT", add, "", 405, 1, "use POST, GET"},
      {"GetOnPull", "GET", pull, "", 405, 1, "use POST"},

      // --- GET /v1/topics/{topic}/dead ---
      {"DeadLimitZero", "GET", dead + "?limit=0", "", 400, 1, "limit must be between 1 and 1000"},
      {"DeadLimitLetters", "GET", dead + "?limit=abc", "", 400, 1, "limit"},
      {"DeadLimit1001", "GET", dead + "?limit=1001", "", 400, 1, "limit"},
      {"DeadLimitNegative", "GET", dead + "?limit=-1", "", 400, 1, "limit"},
      {"DeadAfterLetter", "GET", dead + "?after=x", "", 400, 1, "after must be a task id"},
      {"DeadAfterZero", "GET", dead + "?limit=5&after=0", "", 400, 1, "after must be a task id"},
      {"DeadAfter20Digits", "GET", dead + "?after=99999999999999999999", "", 400, 1, "after"},
      {"DeadOfTopic129Characters", "GET", "/v1/topics/" + topic_129 + "/dead", "", 400, 1,
       "topic in the path"},
      {"PostOnDead", "POST", dead, "{}", 405, 1, "use GET"},
      {"DeadSubPath", "GET", dead + "/x", "", 404, 2, "no route"},

      // --- other v1 paths ---
      {"UnknownV1Path", "GET", "/v1/queues", "", 404, 2, "no route for GET /v1/queues"},
      {"V1Root", "GET", "/v1/", "", 404, 2, "no route"},
  };
}

struct Reply {
  int status = 0;
  json::value body;
};

Reply Call(HttpClient& client, std::string_view method, const std::string& target,
           const std::string& body = "") {
  HttpResponse response = client.Request(method, target, body);
  Reply reply{response.status, nullptr};
  boost::system::error_code ec;
  if (!response.body.empty()) reply.body = json::parse(response.body, ec);
  return reply;
}

std::string Str(const json::value& value, std::string_view key) {
  if (!value.is_object() || !value.as_object().contains(key) || !value.at(key).is_string()) {
    ADD_FAILURE() << "no string " << key << " in " << json::serialize(value);
    return "";
  }
  return std::string(value.at(key).as_string());
}

// Sends one table case on `client` and checks the status, dm_error and error_msg.
void ExpectAnswer(HttpClient& client, const BadRequest& request,
                  const std::map<std::string, std::string>& vars) {
  SCOPED_TRACE(request.name);
  HttpResponse response =
      client.Request(request.method, Expand(request.target, vars), Expand(request.body, vars));
  ASSERT_TRUE(response.ok()) << "no answer";
  EXPECT_EQ(response.status, request.expected_status) << response.body;
  EXPECT_NE(response.headers["content-type"].find("application/json"), std::string::npos);
  boost::system::error_code ec;
  json::value parsed = json::parse(response.body, ec);
  ASSERT_FALSE(ec) << "answer is not JSON: " << response.body;
  ASSERT_TRUE(parsed.is_object()) << response.body;
  const json::object& body = parsed.get_object();
  ASSERT_TRUE(body.contains("dm_error") && body.at("dm_error").is_int64()) << response.body;
  EXPECT_EQ(body.at("dm_error").get_int64(), request.expected_dm_error) << response.body;
  ASSERT_TRUE(body.contains("error_msg") && body.at("error_msg").is_string()) << response.body;
  std::string message(body.at("error_msg").get_string());
  std::string mentions = Expand(request.error_mentions, vars);
  EXPECT_NE(message.find(mentions), std::string::npos)
      << "error_msg does not name \"" << mentions << "\": " << message;
  // A refused request gets no answer of a success: no id, ids, tasks or task object.
  for (const char* key : {"id", "ids", "tasks", "state"}) {
    EXPECT_FALSE(body.contains(key)) << "a refused request got " << key << ": " << response.body;
  }
}

// The responses in `wire`, in order (each framed by its Content-Length).
std::vector<HttpResponse> SplitResponses(const std::string& wire) {
  std::vector<HttpResponse> out;
  size_t pos = 0;
  while (pos < wire.size()) {
    size_t end_of_head = wire.find("\r\n\r\n", pos);
    if (end_of_head == std::string::npos || wire.compare(pos, 9, "HTTP/1.1 ") != 0) break;
    HttpResponse response;
    response.status = std::atoi(wire.c_str() + pos + 9);
    std::string head = wire.substr(pos, end_of_head - pos);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t length = 0;
    if (size_t at = head.find("\r\ncontent-length: "); at != std::string::npos) {
      length = std::stoul(head.substr(at + 18));
    }
    if (head.find("\r\nconnection: close") != std::string::npos) {
      response.headers["connection"] = "close";
    }
    response.body = wire.substr(end_of_head + 4, length);
    out.push_back(response);
    pos = end_of_head + 4 + length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Raw transport scenarios. Each opens its own connection and leaves the server serving; the
// survivor test replays all of them.

// 200 headers of 200 bytes (40 KB, over the 16 KiB limit) before a valid add: 431, closed, and
// the add is never executed.
void HeaderFlood(const std::string& address) {
  HttpClient raw(address);
  ASSERT_TRUE(raw.Connect());
  std::string headers;
  for (int i = 0; i < 200; ++i) {
    char name[32];
    snprintf(name, sizeof name, "X-Flood-%03d: ", i);
    std::string line = name + std::string(200 - 2 - strlen(name), 'f') + "\r\n";
    ASSERT_EQ(line.size(), 200u);
    headers += line;
  }
  ASSERT_GT(headers.size(), kMaxHeaderBytes);
  std::string body = R"({"payload":"flooded"})";
  ASSERT_TRUE(raw.SendRaw(RequestHead("POST", "/v1/topics/" + std::string(kTopic) + "/tasks") +
                          headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                          body));
  ExpectTransportError(raw.ReadResponse(), 431, "request headers are larger than the limit");
  EXPECT_TRUE(raw.WaitClosed());
}

// A valid add followed, in the same send, by bytes that are not HTTP and then a request that
// must never be read: the add is answered 201, the garbage 400 with Connection: close, and the
// connection is closed before the third request. Returns the id of the pipelined add.
std::string PipelinedGarbageAfterAValidRequest(const std::string& address,
                                               const std::string& garbage) {
  std::string add = R"({"payload":"pipelined"})";
  std::string after = R"({"payload":"after the garbage"})";
  std::string target = "/v1/topics/" + std::string(kOtherTopic) + "/tasks";
  std::string wire =
      ExchangeUntilClosed(address, RequestWithJsonBody("POST", target, add) + garbage +
                                       RequestWithJsonBody("POST", target, after));
  std::vector<HttpResponse> responses = SplitResponses(wire);
  EXPECT_EQ(responses.size(), 2u) << wire;
  if (responses.size() < 2) return "";
  EXPECT_EQ(responses[0].status, 201) << wire;
  EXPECT_EQ(responses[0].headers.count("connection"), 0u) << "the valid request closed: " << wire;
  boost::system::error_code ec;
  json::value added = json::parse(responses[0].body, ec);
  ExpectTransportError(responses[1], 400, "malformed HTTP request");
  EXPECT_EQ(responses[1].headers["connection"], "close") << wire;
  return added.is_object() ? Str(added, "id") : "";
}

const std::string kTextGarbage = "THIS IS NOT HTTP AT ALL\r\n\r\n";
const std::string kBinaryGarbage = std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) +
                                   std::string("\x00\xff\x7f garbage\r\n\r\n", 15);

// ---------------------------------------------------------------------------------------------

// A delayq started with ServerArgs() and seeded with the tasks every bad request aims at.
class SeededServer : public testing::Served {
 public:
  // Starts the server and seeds it; records a test failure (and returns) if that fails.
  void Start() {
    StartServer(ServerArgs());
    if (client_) Seed();
  }

  // The stored tasks every test starts with (see kTopic, kHeldTopic, kDoneTopic).
  void Seed() {
    int64_t now = WallClockMs();
    Reply first = Call(*client_, "POST", "/v1/topics/" + std::string(kTopic) + "/tasks",
                       R"({"payload":{"n":1},"at_ms":)" + std::to_string(now - 2000) +
                           R"(,"max_attempts":3,"dedup_key":"first"})");
    ASSERT_EQ(first.status, 201) << json::serialize(first.body);
    due_first_ = Str(first.body, "id");
    Reply batch =
        Call(*client_, "POST", "/v1/topics/" + std::string(kTopic) + "/tasks:batch",
             R"({"tasks":[{"payload":[1,"two",3.5],"at_ms":)" + std::to_string(now - 1000) +
                 R"(},{"payload":"later","delay_ms":3600000}]})");
    ASSERT_EQ(batch.status, 201) << json::serialize(batch.body);
    ASSERT_EQ(batch.body.at("ids").as_array().size(), 2u);
    due_second_ = std::string(batch.body.at("ids").as_array()[0].as_string());
    scheduled_ = std::string(batch.body.at("ids").as_array()[1].as_string());

    leased_ = TakeOne(kHeldTopic, R"({"payload":"held"})", &lease_);
    done_ = TakeOne(kDoneTopic, R"({"payload":"done"})", &done_lease_);
    Reply ack = Call(*client_, "POST", "/v1/tasks/" + done_ + "/ack",
                     R"({"lease":")" + done_lease_ + R"("})");
    ASSERT_EQ(ack.status, 200) << json::serialize(ack.body);
    ASSERT_FALSE(::testing::Test::HasFailure());
    seeded_ = true;
  }

  // Adds a task to `topic` and pulls it under a 10-minute lease.
  std::string TakeOne(const std::string& topic, const std::string& add, std::string* lease) {
    Reply added = Call(*client_, "POST", "/v1/topics/" + topic + "/tasks", add);
    EXPECT_EQ(added.status, 201) << json::serialize(added.body);
    Reply pulled =
        Call(*client_, "POST", "/v1/topics/" + topic + "/pull", R"({"max":1,"lease_ms":600000})");
    EXPECT_EQ(pulled.status, 200) << json::serialize(pulled.body);
    if (added.status != 201 || pulled.status != 200) return "";
    const json::array& tasks = pulled.body.at("tasks").as_array();
    EXPECT_EQ(tasks.size(), 1u);
    if (tasks.empty()) return "";
    EXPECT_EQ(Str(tasks[0], "id"), Str(added.body, "id"));
    *lease = Str(tasks[0], "lease");
    return Str(tasks[0], "id");
  }

  std::map<std::string, std::string> Vars() const {
    return {{"scheduled", scheduled_},
            {"leased", leased_},
            {"lease", lease_},
            {"stale_lease", lease_ == "00000000000000ab" ? "00000000000000ac" : "00000000000000ab"},
            {"done", done_},
            {"done_lease", done_lease_}};
  }

  std::vector<std::string> SeededIds() const {
    return {due_first_, due_second_, scheduled_, leased_, done_};
  }

  json::value GetTask(const std::string& id) {
    Reply reply = Call(*client_, "GET", "/v1/tasks/" + id);
    EXPECT_EQ(reply.status, 200) << id << " -> " << json::serialize(reply.body);
    return reply.body;
  }

  std::string due_first_, due_second_, scheduled_;  // kTopic
  std::string leased_, lease_;                      // kHeldTopic
  std::string done_, done_lease_;                   // kDoneTopic
  bool seeded_ = false;
};

// A server of its own for each test: these tests add tasks or change the seeded ones.
class BadV1Input : public ::testing::Test, protected SeededServer {
 protected:
  void SetUp() override { Start(); }
};

// ---------------------------------------------------------------------------------------------
// The table, one case per test, all on one server: a refused request changes nothing, which
// StoredTasksSurviveEveryBadInputUntouched checks by sending the whole table to one server.

class BadV1Request : public testing::SharedServerSuite<SeededServer, BadRequest> {};

TEST_P(BadV1Request, GetsItsStatusDmErrorAndAMessageNamingTheField) {
  ASSERT_TRUE(shared_->seeded_) << "the shared server did not start or was not seeded";
  ExpectAnswer(*shared_->client_, GetParam(), shared_->Vars());
  shared_->ExpectStillServing();
}

INSTANTIATE_TEST_SUITE_P(Table, BadV1Request, ::testing::ValuesIn(BadRequests()),
                         [](const ::testing::TestParamInfo<BadRequest>& info) {
                           return info.param.name;
                         });

// The route a table target hits, e.g. "/v1/tasks/{id}/ack".
std::string RouteOf(const std::string& target) {
  std::string path = target.substr(0, target.find('?'));
  std::vector<std::string> parts;
  for (size_t start = 4; start <= path.size();) {  // after "/v1/"
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  if (parts.size() >= 2 && parts[0] == "topics") {
    parts[1] = "{topic}";
  } else if (parts.size() >= 2 && parts[0] == "tasks") {
    parts[1] = "{id}";
  }
  std::string route = "/v1";
  for (const std::string& part : parts) route += "/" + part;
  return route;
}

TEST(BadV1RequestTable, HasAtLeast40DistinctNamedCasesCoveringEveryV1Endpoint) {
  std::vector<BadRequest> table = BadRequests();
  EXPECT_GE(table.size(), 40u);
  std::map<std::string, int> names;
  std::set<std::string> routes;
  for (const BadRequest& request : table) {
    EXPECT_EQ(++names[request.name], 1) << request.name;
    routes.insert(RouteOf(request.target));
  }
  for (const char* route :
       {"/v1/topics/{topic}/tasks", "/v1/topics/{topic}/tasks:batch", "/v1/topics/{topic}/pull",
        "/v1/tasks/{id}", "/v1/tasks/{id}/ack", "/v1/tasks/{id}/nack", "/v1/tasks/{id}/reschedule",
        "/v1/tasks/{id}/redrive", "/v1/topics", "/v1/topics/{topic}", "/v1/topics/{topic}/dead",
        "/v1/tasks:ack", "/v1/tasks:nack"}) {
    EXPECT_TRUE(routes.contains(route)) << "no case for " << route;
  }
  std::cout << "[ table    ] " << table.size() << " cases on " << routes.size() << " routes\n";
}

// ---------------------------------------------------------------------------------------------
// Transport-level garbage and big inputs.

TEST_F(BadV1Input, HeaderFloodOf200HeadersOf200BytesIsAnswered431AndAddsNothing) {
  uint64_t before = TasksAdded();
  HeaderFlood(server_->address());
  ExpectStillServing();
  EXPECT_EQ(TasksAdded(), before);
}

TEST_F(BadV1Input, TextGarbagePipelinedAfterAValidAddIsAnswered400AndTheConnectionCloses) {
  uint64_t before = TasksAdded();
  std::string id = PipelinedGarbageAfterAValidRequest(server_->address(), kTextGarbage);
  ASSERT_FALSE(id.empty());
  // The valid add was executed, the request after the garbage was not.
  json::value task = GetTask(id);
  EXPECT_EQ(Str(task, "topic"), kOtherTopic);
  EXPECT_EQ(task.at("payload"), json::value("pipelined"));
  EXPECT_EQ(TasksAdded(), before + 1);
  ExpectStillServing();
}

TEST_F(BadV1Input, BinaryGarbagePipelinedAfterAValidAddIsAnswered400AndTheConnectionCloses) {
  uint64_t before = TasksAdded();
  std::string id = PipelinedGarbageAfterAValidRequest(server_->address(), kBinaryGarbage);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(GetTask(id).at("payload"), json::value("pipelined"));
  EXPECT_EQ(TasksAdded(), before + 1);
  ExpectStillServing();
}

TEST_F(BadV1Input, PayloadWithA200000ElementArrayWithinMaxPayloadBytesIsStoredWhole) {
  // [0,0,...] with 200,000 elements is 400,001 bytes: under the 1 MiB payload limit.
  std::string array = ArrayOf(200000, "0");
  ASSERT_EQ(array.size(), 400001u);
  ASSERT_LT(array.size(), kMaxPayloadBytes);
  Reply added = Call(*client_, "POST", "/v1/topics/" + std::string(kOtherTopic) + "/tasks",
                     R"({"payload":)" + array + "}");
  ASSERT_EQ(added.status, 201) << json::serialize(added.body);
  json::value task = GetTask(Str(added.body, "id"));
  ASSERT_TRUE(task.at("payload").is_array());
  EXPECT_EQ(task.at("payload").as_array().size(), 200000u);
  EXPECT_EQ(json::serialize(task.at("payload")), array);
  ExpectStillServing();
}

TEST_F(BadV1Input, AKeptAliveConnectionStillWorksAfterRefusedV1Requests) {
  // 4xx answers from the API do not close the connection: the next request on it works.
  for (const BadRequest& request : BadRequests()) {
    if (request.name == "AddTruncatedJson" || request.name == "Batch1001Tasks") {
      ExpectAnswer(*client_, request, Vars());
    }
  }
  HttpClient raw(server_->address());
  ASSERT_TRUE(raw.Connect());
  ASSERT_TRUE(raw.SendRaw(
      RequestWithJsonBody("POST", "/v1/topics/" + std::string(kTopic) + "/pull", R"({"max":0})") +
      RequestHead("GET", "/v1/tasks/" + scheduled_) + "\r\n"));
  HttpResponse refused = raw.ReadResponse();
  EXPECT_EQ(refused.status, 400) << refused.body;
  HttpResponse task = raw.ReadResponse();
  EXPECT_EQ(task.status, 200) << task.body;
}

// ---------------------------------------------------------------------------------------------
// Nothing already stored is touched.

TEST_F(BadV1Input, StoredTasksSurviveEveryBadInputUntouched) {
  const std::vector<std::string> ids = SeededIds();
  std::map<std::string, json::value> before;
  for (const std::string& id : ids) before[id] = GetTask(id);
  EXPECT_EQ(Str(before[due_first_], "state"), "due");
  EXPECT_EQ(Str(before[due_second_], "state"), "due");
  EXPECT_EQ(Str(before[scheduled_], "state"), "scheduled");
  EXPECT_EQ(Str(before[leased_], "state"), "leased");
  EXPECT_EQ(Str(before[done_], "state"), "done");
  Reply topic_before = Call(*client_, "GET", "/v1/topics/" + std::string(kTopic));
  ASSERT_EQ(topic_before.status, 200);
  uint64_t added_before = TasksAdded();

  // Every bad request from the table, on one kept-alive connection.
  for (const BadRequest& request : BadRequests()) ExpectAnswer(*client_, request, Vars());
  // Every transport scenario, and the big payload that is accepted (in its own topic).
  const std::string& address = server_->address();
  HeaderFlood(address);
  EXPECT_FALSE(PipelinedGarbageAfterAValidRequest(address, kTextGarbage).empty());
  EXPECT_FALSE(PipelinedGarbageAfterAValidRequest(address, kBinaryGarbage).empty());
  Reply big = Call(*client_, "POST", "/v1/topics/" + std::string(kOtherTopic) + "/tasks",
                   R"({"payload":)" + ArrayOf(200000, "0") + "}");
  EXPECT_EQ(big.status, 201);

  ExpectStillServing();
  // Only the three valid adds (two pipelined, one big) added anything.
  EXPECT_EQ(TasksAdded(), added_before + 3);

  // Every seeded task reads back exactly as before.
  for (const std::string& id : ids) {
    EXPECT_EQ(GetTask(id), before[id]) << "task " << id << " changed";
  }
  Reply topic_after = Call(*client_, "GET", "/v1/topics/" + std::string(kTopic));
  ASSERT_EQ(topic_after.status, 200);
  EXPECT_EQ(topic_after.body.at("counts"), topic_before.body.at("counts"));
  Reply dead = Call(*client_, "GET", "/v1/topics/" + std::string(kTopic) + "/dead");
  ASSERT_EQ(dead.status, 200);
  EXPECT_TRUE(dead.body.at("tasks").as_array().empty());

  // A pull on a fresh connection hands out exactly the two due tasks, oldest first, with
  // their payloads and first attempt; the scheduled one stays.
  HttpClient fresh(address);
  Reply pulled = Call(fresh, "POST", "/v1/topics/" + std::string(kTopic) + "/pull",
                      R"({"max":10,"lease_ms":60000})");
  ASSERT_EQ(pulled.status, 200) << json::serialize(pulled.body);
  const json::array& tasks = pulled.body.at("tasks").as_array();
  ASSERT_EQ(tasks.size(), 2u) << json::serialize(pulled.body);
  EXPECT_EQ(Str(tasks[0], "id"), due_first_);
  EXPECT_EQ(tasks[0].at("payload"), json::parse(R"({"n":1})"));
  EXPECT_EQ(Str(tasks[1], "id"), due_second_);
  EXPECT_EQ(tasks[1].at("payload"), json::parse(R"([1,"two",3.5])"));
  for (const json::value& task : tasks) {
    EXPECT_EQ(task.at("attempt").as_int64(), 1);
    Reply ack = Call(fresh, "POST", "/v1/tasks/" + Str(task, "id") + "/ack",
                     R"({"lease":")" + Str(task, "lease") + R"("})");
    EXPECT_EQ(ack.status, 200) << json::serialize(ack.body);
  }
  // The leased task still holds its lease (the stale-lease and bad nack attempts did nothing).
  Reply ack =
      Call(fresh, "POST", "/v1/tasks/" + leased_ + "/ack", R"({"lease":")" + lease_ + R"("})");
  EXPECT_EQ(ack.status, 200) << json::serialize(ack.body);
  EXPECT_EQ(Str(ack.body, "state"), "done");
  EXPECT_EQ(ack.body.at("attempts").as_int64(), 1);
  // The scheduled task can still be moved, and then pulled.
  Reply moved = Call(fresh, "POST", "/v1/tasks/" + scheduled_ + "/reschedule", R"({"now":true})");
  EXPECT_EQ(moved.status, 200) << json::serialize(moved.body);
  Reply last = Call(fresh, "POST", "/v1/topics/" + std::string(kTopic) + "/pull", R"({"max":10})");
  ASSERT_EQ(last.status, 200);
  ASSERT_EQ(last.body.at("tasks").as_array().size(), 1u) << json::serialize(last.body);
  EXPECT_EQ(Str(last.body.at("tasks").as_array()[0], "id"), scheduled_);
  EXPECT_EQ(last.body.at("tasks").as_array()[0].at("payload"), json::value("later"));
}

// ---------------------------------------------------------------------------------------------
// Answers that were once wrong; each test pins the fixed behaviour.

// A callback.timeout_ms over callbacks.timeout in the second item of a batch is named with the
// item's index, tasks[1].callback.timeout_ms, as every other item error is (it once said only
// "callback.timeout_ms", which does not say which item to fix).
TEST_F(BadV1Input, BatchItemCallbackTimeoutOverTheLimitIsNamedWithItsIndex) {
  BadRequest request{
      "BatchItemCallbackTimeoutOverCallbacksTimeout",
      "POST",
      "/v1/topics/" + std::string(kTopic) + "/tasks:batch",
      Batch({R"({"payload":"ok"})",
             With(R"("callback":{"url":"http://127.0.0.1:9/cb","timeout_ms":20000})")}),
      400,
      1,
      "tasks[1].callback.timeout_ms"};
  ExpectAnswer(*client_, request, Vars());
}

// An integer too large for int64 written without a fraction is "out of range" (as 2^64-1 is),
// not "must be a whole number" (which it once was, for 123456789012345678901234567890 and
// 1e999, while 18446744073709551615 was already "out of range").
TEST_F(BadV1Input, HugeIntegersAreReportedOutOfRangeNotAsFractions) {
  for (const char* value : {"123456789012345678901234567890", "1e999"}) {
    SCOPED_TRACE(value);
    BadRequest request{"DelayMsHuge",
                       "POST",
                       "/v1/topics/" + std::string(kTopic) + "/tasks",
                       With(std::string("\"delay_ms\":") + value),
                       400,
                       1,
                       "delay_ms is out of range"};
    ExpectAnswer(*client_, request, Vars());
  }
}

// An unknown task action is an unknown path whatever the method: 404 "no action 'frob'" (a 405
// "use POST" would advertise a method that then answers 404).
TEST_F(BadV1Input, UnknownTaskActionIs404WhateverTheMethod) {
  for (const char* method : {"GET", "DELETE", "PUT"}) {
    BadRequest request{std::string("UnknownTaskActionWith") + method,
                       method,
                       "/v1/tasks/{scheduled}/frob",
                       "",
                       404,
                       2,
                       "frob"};
    ExpectAnswer(*client_, request, Vars());
  }
}

// RFC 9110 §15.5.6: "The origin server MUST generate an Allow header field in a 405 response
// containing a list of the target resource's currently supported methods."
TEST_F(BadV1Input, MethodNotAllowedAnswersCarryAnAllowHeader) {
  for (const auto& [method, target, allow] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"PUT", "/v1/tasks/" + scheduled_, "GET, DELETE"},
           {"GET", "/v1/tasks/" + scheduled_ + "/ack", "POST"},
           {"POST", "/v1/topics", "GET"}}) {
    HttpResponse response = client_->Request(method, target, "{}");
    EXPECT_EQ(response.status, 405) << target;
    EXPECT_EQ(response.headers["allow"], allow) << method << " " << target;
  }
}

}  // namespace
}  // namespace delayq
