// What a careless or hostile client sends to the seed endpoints, against
// the real binary: every malformed request gets a clear 4xx with a dm_error and an error_msg
// that names the field, transport garbage never takes the server down, and nothing already
// stored is touched.
//
// HTTP status and dm_error (src/api/errors.cc): invalid -> 400/1, too large -> 413/1,
// not found -> 404/2, wrong method -> 405/1.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <ostream>
#include <string>
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
namespace json = boost::json;

constexpr size_t kMaxBodyBytes = 65536;
constexpr size_t kMaxPayloadBytes = 4096;
constexpr size_t kMaxHeaderBytes = 16 << 10;  // the server's default

// The seeded tasks live in this topic, and most bad requests aim at it too.
constexpr const char* kTopic = "survivors";
// Valid adds sent with an unusual Content-Type go here (due in an hour), so that they never
// mix with the seeded tasks.
constexpr const char* kContentTypeTopic = "ctype.ok";

std::vector<std::string> ServerArgs() {
  return {"--limits-max-body-bytes", std::to_string(kMaxBodyBytes), "--limits-max-payload-bytes",
          std::to_string(kMaxPayloadBytes)};
}

// {"topic":…,"timing_moment":…,"content":…} from raw JSON snippets; an empty snippet leaves
// the field out.
std::string AddBody(const std::string& topic, const std::string& moment,
                    const std::string& content) {
  std::string body = "{";
  auto field = [&](const char* name, const std::string& value) {
    if (value.empty()) return;
    if (body.size() > 1) body += ",";
    body += "\"" + std::string(name) + "\":" + value;
  };
  field("topic", topic);
  field("timing_moment", moment);
  field("content", content);
  return body + "}";
}

std::string ValidAdd(const std::string& content = "\"{\\\"uid\\\":\\\"1\\\"}\"") {
  return AddBody(JsonQuoted(kTopic), "1565700615", content);
}

// One request a bad client sends, and what it must get back.
struct BadRequest {
  std::string name;
  std::string method;
  std::string target;
  std::string body;
  std::string content_type;  // empty: application/json
  int expected_status;
  int expected_dm_error;
  std::string error_mentions;  // error_msg must contain this (the offending field)
};

void PrintTo(const BadRequest& request, std::ostream* out) { *out << request.name; }

std::vector<BadRequest> BadRequests() {
  const std::string add = "/delay/task/add";
  const std::string pull = "/delay/task/pull";
  const std::string topic = JsonQuoted(kTopic);
  const std::string moment = "1565700615";
  const std::string content = "\"x\"";
  const std::string nested = std::string(10000, '[') + std::string(10000, ']');
  const std::string ten_years_ahead =
      std::to_string((WallClockMs() / 1000) + 10LL * 366 * 24 * 3600);
  const std::string valid_elsewhere = AddBody(
      JsonQuoted(kContentTypeTopic), std::to_string((WallClockMs() / 1000) + 3600), "\"ok\"");
  auto pull_body = [&](const std::string& task_id) {
    return "{\"topic\":" + topic + ",\"task_id\":" + task_id + "}";
  };

  return {
      // --- the body is not a JSON object ---
      {"AddInvalidJson", "POST", add, R"({"topic": "survivors", "timing_moment": 1, "content": })",
       "", 400, 1, "body"},
      {"AddTruncatedJson", "POST", add, R"({"topic":"survivors","timing_moment":15657)", "", 400, 1,
       "body"},
      {"AddBodyIsArray", "POST", add, "[" + ValidAdd() + "]", "", 400, 1, "body"},
      {"AddBodyIsString", "POST", add, R"("topic")", "", 400, 1, "body"},
      {"AddBodyIsNumber", "POST", add, "42", "", 400, 1, "body"},
      {"AddBodyIsNull", "POST", add, "null", "", 400, 1, "body"},
      {"AddEmptyBody", "POST", add, "", "", 400, 1, "body"},
      {"AddWhitespaceBody", "POST", add, " \r\n\t ", "", 400, 1, "body"},
      {"AddTrailingGarbageAfterObject", "POST", add, ValidAdd() + " xyz", "", 400, 1, "body"},
      {"AddTwoConcatenatedObjects", "POST", add, ValidAdd() + ValidAdd(), "", 400, 1, "body"},
      {"AddTrailingComma", "POST", add, R"({"topic":"survivors","timing_moment":1,"content":"x",})",
       "", 400, 1, "body"},
      {"AddDeeplyNestedArrayInContent", "POST", add, AddBody(topic, moment, nested), "", 400, 1,
       "body"},
      {"AddUnterminatedNestingInContent", "POST", add,
       AddBody(topic, moment, std::string(10000, '[')), "", 400, 1, "body"},
      {"AddInvalidUtf8InContent", "POST", add, AddBody(topic, moment, "\"ab\xff\xfe\xc3\""), "",
       400, 1, "body"},
      {"AddInvalidUtf8InTopic", "POST", add, AddBody("\"surv\xc0\xafivors\"", moment, content), "",
       400, 1, "body"},
      {"AddNanTimingMoment", "POST", add, AddBody(topic, "NaN", content), "", 400, 1, "body"},

      // --- topic ---
      {"AddTopicMissing", "POST", add, AddBody("", moment, content), "", 400, 1, "topic"},
      {"AddTopicNumber", "POST", add, AddBody("7", moment, content), "", 400, 1, "topic"},
      {"AddTopicArray", "POST", add, AddBody("[" + topic + "]", moment, content), "", 400, 1,
       "topic"},
      {"AddTopicNull", "POST", add, AddBody("null", moment, content), "", 400, 1, "topic"},
      {"AddTopicEmpty", "POST", add, AddBody("\"\"", moment, content), "", 400, 1, "topic"},
      {"AddTopicWithSpace", "POST", add, AddBody("\"order timeout\"", moment, content), "", 400, 1,
       "topic"},
      {"AddTopicWithSlash", "POST", add, AddBody("\"orders/timeout\"", moment, content), "", 400, 1,
       "topic"},
      {"AddTopicUnicode", "POST", add, AddBody("\"订单超时\"", moment, content), "", 400, 1,
       "topic"},
      {"AddTopicWithNul", "POST", add, AddBody(R"("surv\u0000ivors")", moment, content), "", 400, 1,
       "topic"},
      {"AddTopic500Characters", "POST", add,
       AddBody(JsonQuoted(std::string(500, 'a')), moment, content), "", 400, 1, "topic"},
      {"AddTopic129Characters", "POST", add,
       AddBody(JsonQuoted(std::string(129, 'a')), moment, content), "", 400, 1, "topic"},

      // --- timing_moment ---
      {"AddTimingMomentMissing", "POST", add, AddBody(topic, "", content), "", 400, 1,
       "timing_moment"},
      {"AddTimingMomentString", "POST", add, AddBody(topic, "\"1565700615\"", content), "", 400, 1,
       "timing_moment"},
      {"AddTimingMomentFraction", "POST", add, AddBody(topic, "1565700615.5", content), "", 400, 1,
       "timing_moment"},
      {"AddTimingMomentBool", "POST", add, AddBody(topic, "true", content), "", 400, 1,
       "timing_moment"},
      {"AddTimingMomentObject", "POST", add, AddBody(topic, R"({"seconds":1565700615})", content),
       "", 400, 1, "timing_moment"},
      {"AddTimingMomentNull", "POST", add, AddBody(topic, "null", content), "", 400, 1,
       "timing_moment"},
      {"AddTimingMomentNegative", "POST", add, AddBody(topic, "-1", content), "", 400, 1,
       "timing_moment"},
      {"AddTimingMoment20Digits", "POST", add, AddBody(topic, "99999999999999999999", content), "",
       400, 1, "timing_moment"},
      {"AddTimingMomentUint64Max", "POST", add, AddBody(topic, "18446744073709551615", content), "",
       400, 1, "timing_moment"},
      {"AddTimingMomentInt64Max", "POST", add, AddBody(topic, "9223372036854775807", content), "",
       400, 1, "timing_moment"},
      {"AddTimingMomentExponentOverflow", "POST", add, AddBody(topic, "1e400", content), "", 400, 1,
       "timing_moment"},
      {"AddTimingMomentTenYearsAhead", "POST", add, AddBody(topic, ten_years_ahead, content), "",
       400, 1, "timing_moment"},
      {"AddTimingMomentInMillisecondsByMistake", "POST", add,
       AddBody(topic, std::to_string((WallClockMs() / 1000) * 1000), content), "", 400, 1,
       "timing_moment"},

      // --- content ---
      {"AddContentMissing", "POST", add, AddBody(topic, moment, ""), "", 400, 1, "content"},
      {"AddContentNumber", "POST", add, AddBody(topic, moment, "5"), "", 400, 1, "content"},
      {"AddContentObject", "POST", add, AddBody(topic, moment, R"({"uid":"1"})"), "", 400, 1,
       "content"},
      {"AddContentArray", "POST", add, AddBody(topic, moment, R"(["uid"])"), "", 400, 1, "content"},
      {"AddContentNull", "POST", add, AddBody(topic, moment, "null"), "", 400, 1, "content"},
      {"AddContentOverPayloadLimit", "POST", add,
       AddBody(topic, moment, JsonQuoted(std::string(kMaxPayloadBytes + 1, 'c'))), "", 413, 1,
       "content"},
      {"AddCallbackPathWithoutSn", "POST", add, AddBody(topic, moment, R"("{\"url\":\"/cb\"}")"),
       "", 400, 1, "content.url"},
      {"AddCallbackUnknownSn", "POST", add,
       AddBody(topic, moment, R"("{\"sn\":\"nobody\",\"url\":\"/cb\"}")"), "", 400, 1,
       "content.sn"},
      {"AddCallbackFtpUrl", "POST", add,
       AddBody(topic, moment, R"("{\"url\":\"ftp://127.0.0.1/cb\"}")"), "", 400, 1, "content.url"},

      // --- the body as a whole ---
      {"AddBodyOverMaxBodyBytes", "POST", add,
       AddBody(topic, moment, JsonQuoted(std::string(kMaxBodyBytes + 10, 'b'))), "", 413, 1,
       "body"},

      // --- pull ---
      {"PullInvalidJson", "POST", pull, R"({"topic":)", "", 400, 1, "body"},
      {"PullEmptyBody", "POST", pull, "", "", 400, 1, "body"},
      {"PullBodyIsArray", "POST", pull, "[" + topic + "]", "", 400, 1, "body"},
      {"PullTopicMissing", "POST", pull, R"({"task_id":1})", "", 400, 1, "topic"},
      {"PullTopicNumber", "POST", pull, R"({"topic":12})", "", 400, 1, "topic"},
      {"PullTopicWithSlash", "POST", pull, R"({"topic":"../survivors"})", "", 400, 1, "topic"},
      {"PullTaskIdNegative", "POST", pull, pull_body("-4"), "", 400, 1, "task_id"},
      {"PullTaskIdNonNumericString", "POST", pull, pull_body("\"abc\""), "", 400, 1, "task_id"},
      {"PullTaskIdNegativeString", "POST", pull, pull_body("\"-5\""), "", 400, 1, "task_id"},
      {"PullTaskIdObject", "POST", pull, pull_body(R"({"id":1})"), "", 400, 1, "task_id"},
      {"PullTaskIdArray", "POST", pull, pull_body("[1]"), "", 400, 1, "task_id"},
      {"PullTaskIdFraction", "POST", pull, pull_body("1.5"), "", 400, 1, "task_id"},
      {"PullTaskIdBool", "POST", pull, pull_body("true"), "", 400, 1, "task_id"},
      {"PullTaskIdBeyondUint64", "POST", pull, pull_body("99999999999999999999"), "", 400, 1,
       "task_id"},
      {"PullUnknownTaskIdIsNotFound", "POST", pull, pull_body("1"), "", 404, 2, "task 1"},

      // --- routing ---
      {"UnknownPathIsNotFound", "POST", "/delay/task/nope", ValidAdd(), "", 404, 2,
       "/delay/task/nope"},
      {"TrailingSlashIsNotFound", "POST", "/delay/task/add/", ValidAdd(), "", 404, 2,
       "/delay/task/add/"},
      {"UpperCasePathIsNotFound", "POST", "/DELAY/TASK/ADD", ValidAdd(), "", 404, 2,
       "/DELAY/TASK/ADD"},
      {"GetOnAddIsMethodNotAllowed", "GET", add, "", "", 405, 1, "POST"},
      {"GetOnPullIsMethodNotAllowed", "GET", pull, "", "", 405, 1, "POST"},
      {"PutOnAddWithValidBodyIsMethodNotAllowed", "PUT", add, ValidAdd(), "", 405, 1, "POST"},
      {"DeleteOnAddIsMethodNotAllowed", "DELETE", add, "", "", 405, 1, "POST"},
      {"UnknownMethodOnAddIsMethodNotAllowed", "BREW", add, ValidAdd(), "", 405, 1, "POST"},

      // --- a valid body is accepted whatever the Content-Type (seed clients send curl -d) ---
      {"FormUrlencodedValidBodySucceeds", "POST", add, valid_elsewhere,
       "application/x-www-form-urlencoded", 200, 0, "操作成功"},
      {"TextPlainValidBodySucceeds", "POST", add, valid_elsewhere, "text/plain", 200, 0,
       "操作成功"},
      {"OctetStreamValidBodySucceeds", "POST", add, valid_elsewhere, "application/octet-stream",
       200, 0, "操作成功"},
  };
}

// Sends one table case on `client` and checks the status, dm_error and error_msg.
void ExpectAnswer(HttpClient& client, const BadRequest& request) {
  SCOPED_TRACE(request.name);
  std::vector<std::pair<std::string, std::string>> headers;
  if (!request.content_type.empty()) headers.emplace_back("Content-Type", request.content_type);
  HttpResponse response = client.Request(request.method, request.target, request.body, headers);
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
  EXPECT_NE(message.find(request.error_mentions), std::string::npos)
      << "error_msg does not name \"" << request.error_mentions << "\": " << message;
  if (request.expected_status == 200) {
    ASSERT_TRUE(body.contains("task_id"));
    EXPECT_TRUE(body.at("task_id").is_int64() || body.at("task_id").is_uint64()) << response.body;
    EXPECT_GT(body.at("task_id").to_number<uint64_t>(), 0u);
  } else {
    EXPECT_FALSE(body.contains("task_id")) << "a rejected request got a task_id: " << response.body;
  }
}

// ---------------------------------------------------------------------------------------------
// Raw transport scenarios. Each opens its own connection and leaves the server serving; the
// survivor test replays all of them.

// A request line that is not HTTP: answered 400 (or the connection is dropped), never a crash.
void GarbageRequestLine(const std::string& address) {
  HttpClient raw(address);
  ASSERT_TRUE(raw.Connect());
  ASSERT_TRUE(raw.SendRaw("HELLO\r\n\r\n"));
  HttpResponse response = raw.ReadResponse();
  if (response.ok()) ExpectTransportError(response, 400, "malformed HTTP request");
  EXPECT_TRUE(raw.WaitClosed());
}

// Binary noise, as from a port scanner or a client speaking TLS to the plain HTTP port.
void BinaryNoise(const std::string& address) {
  HttpClient raw(address);
  ASSERT_TRUE(raw.Connect());
  std::string noise("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  for (int i = 0; i < 512; ++i) noise.push_back(static_cast<char>((i * 37 + 11) & 0xff));
  noise += "\r\n\r\n";
  ASSERT_TRUE(raw.SendRaw(noise));
  HttpResponse response = raw.ReadResponse();
  if (response.ok()) ExpectTransportError(response, 400, "malformed HTTP request");
  EXPECT_TRUE(raw.WaitClosed());
}

// One header line over the 16 KiB header limit.
void OversizeHeaderLine(const std::string& address) {
  HttpClient raw(address);
  ASSERT_TRUE(raw.Connect());
  std::string request = RequestHead("GET", "/healthz") +
                        "X-Filler: " + std::string(kMaxHeaderBytes + 1024, 'h') + "\r\n\r\n";
  ASSERT_TRUE(raw.SendRaw(request));
  ExpectTransportError(raw.ReadResponse(), 431, "header");
  EXPECT_TRUE(raw.WaitClosed());
}

// Thousands of small headers that together exceed the limit.
void TooManyHeaders(const std::string& address) {
  HttpClient raw(address);
  ASSERT_TRUE(raw.Connect());
  std::string request = RequestHead("POST", "/delay/task/add");
  for (int i = 0; request.size() <= kMaxHeaderBytes + 1024; ++i) {
    request += "X-H" + std::to_string(i) + ": v\r\n";
  }
  request += "Content-Length: 2\r\n\r\n{}";
  ASSERT_TRUE(raw.SendRaw(request));
  ExpectTransportError(raw.ReadResponse(), 431, "header");
  EXPECT_TRUE(raw.WaitClosed());
}

// Content-Length promises more than is sent, then the client goes away. The (valid-looking)
// partial request must never be acted upon.
void ShortBodyThenClose(const std::string& address) {
  HttpClient raw(address);
  ASSERT_TRUE(raw.Connect());
  std::string body = AddBody(JsonQuoted(kTopic), "1", "\"ghost\"");
  std::string request =
      RequestHead("POST", "/delay/task/add") +
      "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size() + 100) +
      "\r\n\r\n" + body;
  ASSERT_TRUE(raw.SendRaw(request));
  raw.Close();
}

// A Content-Length that is not a number.
void NonNumericContentLength(const std::string& address) {
  HttpClient raw(address);
  ASSERT_TRUE(raw.Connect());
  std::string body = ValidAdd("\"ghost\"");
  ASSERT_TRUE(
      raw.SendRaw(RequestHead("POST", "/delay/task/add") + "Content-Length: abc\r\n\r\n" + body));
  ExpectTransportError(raw.ReadResponse(), 400, "malformed HTTP request");
  EXPECT_TRUE(raw.WaitClosed());
}

// Two different Content-Length headers: a request-smuggling attempt.
void ConflictingContentLengths(const std::string& address) {
  HttpClient raw(address);
  ASSERT_TRUE(raw.Connect());
  std::string body = ValidAdd("\"ghost\"");
  ASSERT_TRUE(raw.SendRaw(RequestHead("POST", "/delay/task/add") + "Content-Length: " +
                          std::to_string(body.size()) + "\r\nContent-Length: 5\r\n\r\n" + body));
  ExpectTransportError(raw.ReadResponse(), 400, "malformed HTTP request");
  EXPECT_TRUE(raw.WaitClosed());
}

// A chunked body that grows past max_body_bytes is cut off with 413.
void ChunkedBodyOverLimit(const std::string& address) {
  HttpClient raw(address);
  ASSERT_TRUE(raw.Connect());
  std::string request =
      RequestHead("POST", "/delay/task/add") + "Transfer-Encoding: chunked\r\n\r\n";
  std::string chunk(8192, 'x');
  char size[16];
  snprintf(size, sizeof(size), "%zx\r\n", chunk.size());
  for (size_t sent = 0; sent <= kMaxBodyBytes; sent += chunk.size()) {
    request += size + chunk + "\r\n";
  }
  request += "0\r\n\r\n";
  ASSERT_TRUE(raw.SendRaw(request));
  ExpectTransportError(raw.ReadResponse(), 413, "body");
  EXPECT_TRUE(raw.WaitClosed());
}

// Expect: 100-continue with a declared body over the limit: 413 at once, no "100 Continue".
void ExpectContinueOverLimit(const std::string& address) {
  HttpClient raw(address);
  ASSERT_TRUE(raw.Connect());
  ASSERT_TRUE(raw.SendRaw(RequestHead("POST", "/delay/task/add") + "Expect: 100-continue\r\n" +
                          "Content-Length: " + std::to_string(kMaxBodyBytes * 16) + "\r\n\r\n"));
  ExpectTransportError(raw.ReadResponse(), 413, "body");
  EXPECT_TRUE(raw.WaitClosed());
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t count = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

// A delayq started with ServerArgs(), and a client of it.
class Served : public testing::Served {
 public:
  void Start() { StartServer(ServerArgs()); }

  json::object PostJson(const std::string& target, const std::string& body) {
    HttpResponse response = client_->Post(target, body);
    EXPECT_EQ(response.status, 200) << body << " -> " << response.body;
    boost::system::error_code ec;
    json::value value = json::parse(response.body, ec);
    if (ec || !value.is_object()) {
      ADD_FAILURE() << "not a JSON object: " << response.body;
      return {};
    }
    return std::move(value.get_object());
  }
};

// A server of its own for each test: these tests count what was added.
class BadInput : public ::testing::Test, protected Served {
 protected:
  void SetUp() override { Start(); }
};

// ---------------------------------------------------------------------------------------------
// The table, one case per test, all on one server: a refused request changes nothing, and the
// accepted ones add to a topic of their own, which StoredTasksSurviveEveryBadInput checks by
// sending the whole table to one server.

class BadSeedRequest : public testing::SharedServerSuite<Served, BadRequest> {};

TEST_P(BadSeedRequest, GetsItsStatusDmErrorAndAMessageNamingTheField) {
  ASSERT_TRUE(shared_->client_) << "the shared server did not start";
  ExpectAnswer(*shared_->client_, GetParam());
  shared_->ExpectStillServing();
}

INSTANTIATE_TEST_SUITE_P(Table, BadSeedRequest, ::testing::ValuesIn(BadRequests()),
                         [](const ::testing::TestParamInfo<BadRequest>& info) {
                           return info.param.name;
                         });

TEST(BadSeedRequestTable, HasAtLeast25DistinctNamedCases) {
  std::vector<BadRequest> table = BadRequests();
  EXPECT_GE(table.size(), 25u);
  std::map<std::string, int> names;
  for (const BadRequest& request : table) EXPECT_EQ(++names[request.name], 1) << request.name;
}

// ---------------------------------------------------------------------------------------------
// Transport-level garbage.

TEST_F(BadInput, GarbageRequestLineIsAnswered400OrDroppedAndTheServerKeepsServing) {
  GarbageRequestLine(server_->address());
  ExpectStillServing();
}

TEST_F(BadInput, BinaryNoiseIsAnswered400OrDroppedAndTheServerKeepsServing) {
  BinaryNoise(server_->address());
  ExpectStillServing();
}

TEST_F(BadInput, HeaderLineOver16KiBIsAnswered431) {
  OversizeHeaderLine(server_->address());
  ExpectStillServing();
}

TEST_F(BadInput, ManyHeadersOver16KiBAreAnswered431) {
  TooManyHeaders(server_->address());
  ExpectStillServing();
}

TEST_F(BadInput, NonNumericContentLengthIsAnswered400AndNothingIsAdded) {
  NonNumericContentLength(server_->address());
  ExpectStillServing();
  EXPECT_EQ(TasksAdded(), 0u);
}

TEST_F(BadInput, ConflictingContentLengthsAreAnswered400AndNothingIsAdded) {
  ConflictingContentLengths(server_->address());
  ExpectStillServing();
  EXPECT_EQ(TasksAdded(), 0u);
}

TEST_F(BadInput, ChunkedBodyOverTheLimitIsAnswered413) {
  ChunkedBodyOverLimit(server_->address());
  ExpectStillServing();
  EXPECT_EQ(TasksAdded(), 0u);
}

TEST_F(BadInput, ExpectContinueWithOversizeContentLengthIsAnswered413WithoutContinue) {
  ExpectContinueOverLimit(server_->address());
  ExpectStillServing();
}

TEST_F(BadInput, BodyShorterThanContentLengthThenCloseAddsNothing) {
  ShortBodyThenClose(server_->address());
  ExpectStillServing();
  // The partial request was never dispatched: nothing added, the topic is empty.
  EXPECT_EQ(TasksAdded(), 0u);
  json::object pull = PostJson("/delay/task/pull", "{\"topic\":" + JsonQuoted(kTopic) + "}");
  EXPECT_EQ(pull["dm_error"].to_number<int64_t>(), 0);
  EXPECT_EQ(pull["task_id"].to_number<uint64_t>(), 0u);
  EXPECT_EQ(pull["content"].as_string(), "");
}

TEST_F(BadInput, PipelinedRequestsInOneSendAreAnsweredInOrder) {
  HttpClient raw(server_->address());
  ASSERT_TRUE(raw.Connect());
  std::string add = AddBody("\"pipeline\"", "1", "\"first\"");
  std::string pull = R"({"topic":"pipeline"})";
  std::string bytes = RequestHead("POST", "/delay/task/add") +
                      "Content-Length: " + std::to_string(add.size()) + "\r\n\r\n" + add +
                      RequestHead("GET", "/healthz") + "\r\n" +
                      RequestHead("POST", "/delay/task/pull") +
                      "Content-Length: " + std::to_string(pull.size()) + "\r\n\r\n" + pull;
  ASSERT_TRUE(raw.SendRaw(bytes));

  HttpResponse first = raw.ReadResponse();
  ASSERT_EQ(first.status, 200) << first.body;
  json::value added = json::parse(first.body);
  ASSERT_EQ(added.at("dm_error").to_number<int64_t>(), 0) << first.body;
  uint64_t id = added.at("task_id").to_number<uint64_t>();

  HttpResponse second = raw.ReadResponse();
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.body, R"({"status":"ok"})");

  // The pull was read after the add was done, so it gets that very task.
  HttpResponse third = raw.ReadResponse();
  ASSERT_EQ(third.status, 200) << third.body;
  json::value pulled = json::parse(third.body);
  EXPECT_EQ(pulled.at("dm_error").to_number<int64_t>(), 0);
  EXPECT_EQ(pulled.at("task_id").to_number<uint64_t>(), id);
  EXPECT_EQ(pulled.at("content").as_string(), "first");
}

TEST_F(BadInput, AKeptAliveConnectionStillWorksAfterARejectedRequest) {
  // 4xx answers from the API do not close the connection: the next request on it works.
  ExpectAnswer(*client_, BadRequests().front());
  HttpResponse health = client_->Get("/healthz");
  EXPECT_EQ(health.status, 200);
}

TEST_F(BadInput, StalledPartialRequestIsClosedAfterTheIdleTimeoutAndAddsNothing) {
  // A client that sends part of a request and then stalls (slowloris) is cut off after
  // limits.idle_timeout; the partial request is never acted upon.
  server_ = std::make_unique<ServerProcess>(
      dir_.Sub("idle"), std::vector<std::string>{"--limits-idle-timeout", "200ms"});
  ASSERT_TRUE(server_->Start()) << server_->last_error();
  client_ = std::make_unique<HttpClient>(server_->address());
  HttpClient raw(server_->address());
  ASSERT_TRUE(raw.Connect());
  std::string body = AddBody(JsonQuoted(kTopic), "1", "\"stalled\"");
  ASSERT_TRUE(raw.SendRaw(RequestHead("POST", "/delay/task/add") + "Content-Length: " +
                          std::to_string(body.size() + 50) + "\r\n\r\n" + body));
  EXPECT_TRUE(raw.WaitClosed()) << "the server kept a stalled connection open";
  ExpectStillServing();
  EXPECT_EQ(TasksAdded(), 0u);
}

// Regression: a response to HEAD must not carry a body (RFC 9110 §9.3.2). The server answers
//   HEAD /delay/task/add HTTP/1.1
// with "405 Method Not Allowed" *and* the 84-byte JSON body, so a conforming client on a
// kept-alive connection reads those bytes as the start of the next response (desync).
TEST_F(BadInput, HeadOnASeedEndpointIsAnswered405WithoutABody) {
  std::string wire = ExchangeUntilClosed(
      server_->address(), RequestHead("HEAD", "/delay/task/add") + "\r\n" +
                              RequestHead("GET", "/healthz") + "Connection: close\r\n\r\n");
  size_t end_of_head = wire.find("\r\n\r\n");
  ASSERT_NE(end_of_head, std::string::npos) << wire;
  EXPECT_EQ(wire.rfind("HTTP/1.1 405 ", 0), 0u) << wire;
  // Right after the first header block comes the second response, not a body.
  EXPECT_EQ(wire.substr(end_of_head + 4, 13), "HTTP/1.1 200 ") << wire;
  ExpectStillServing();
}

// Answers are formatted by http/session.cc itself (not Beast's serializer): HTTP/1.0 gets
// an HTTP/1.0 status line, keep-alive only when it asked for it (and then says so), and
// the connection closes after an answer to a request without it.
TEST_F(BadInput, HttpOneZeroKeepAliveIsHonouredAndItsAbsenceCloses) {
  std::string wire = ExchangeUntilClosed(
      server_->address(),
      "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n");
  size_t first_end = wire.find("\r\n\r\n");
  ASSERT_NE(first_end, std::string::npos) << wire;
  std::string first_head = wire.substr(0, first_end);
  EXPECT_EQ(first_head.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << wire;
  EXPECT_NE(first_head.find("\r\nConnection: keep-alive"), std::string::npos) << wire;
  EXPECT_NE(first_head.find("\r\nContent-Length: 15"), std::string::npos) << wire;
  std::string second = wire.substr(first_end + 4 + 15);
  EXPECT_EQ(second.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << wire;
  EXPECT_EQ(second.find("Connection:"), std::string::npos) << wire;
  EXPECT_EQ(second.substr(second.size() - 15), R"({"status":"ok"})") << wire;
}

TEST_F(BadInput, AnAnswerHasItsReasonPhraseLengthAndCloseWhenAsked) {
  std::string wire = ExchangeUntilClosed(
      server_->address(), RequestHead("GET", "/no/such/path") + "Connection: close\r\n\r\n");
  size_t end_of_head = wire.find("\r\n\r\n");
  ASSERT_NE(end_of_head, std::string::npos) << wire;
  std::string head = wire.substr(0, end_of_head);
  std::string body = wire.substr(end_of_head + 4);
  EXPECT_EQ(head.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << wire;
  EXPECT_NE(head.find("\r\nConnection: close"), std::string::npos) << wire;
  EXPECT_NE(head.find("\r\nContent-Length: " + std::to_string(body.size())), std::string::npos)
      << wire;
  EXPECT_NE(head.find("\r\nServer: delayq"), std::string::npos) << wire;
  ExpectStillServing();
}

// Regression (request smuggling, found by this suite, fixed in http/session.cc).
// RFC 9112 §6.3: a request whose Transfer-Encoding does not end in "chunked" has no
// determinable length; the server MUST answer 400 and close the connection. The server
// instead treats the body as empty ("request body is empty"), keeps the connection open and
// then parses the body bytes as a second request and executes it. Sent:
//   POST /delay/task/pull HTTP/1.1 / Transfer-Encoding: gzip / (blank line)
//   POST /delay/task/add HTTP/1.1 ... {"topic":"survivors","timing_moment":1,"content":"smuggled"}
// Got: 400 {"dm_error":1,"error_msg":"request body is empty; ..."} followed by
//      200 {"dm_error":0,...,"task_id":...}: the smuggled task was stored.
// The same happens with "identity", "xchunked" and "chunked, gzip".
TEST_F(BadInput, TransferEncodingNotEndingInChunkedIsAnswered400AndClosed) {
  for (const char* coding : {"gzip", "identity", "xchunked", "chunked, gzip"}) {
    SCOPED_TRACE(coding);
    std::string smuggled_body = AddBody(JsonQuoted(kTopic), "1", "\"smuggled\"");
    std::string smuggled = RequestHead("POST", "/delay/task/add") + "Connection: close\r\n" +
                           "Content-Length: " + std::to_string(smuggled_body.size()) + "\r\n\r\n" +
                           smuggled_body;
    std::string wire = ExchangeUntilClosed(
        server_->address(), RequestHead("POST", "/delay/task/pull") +
                                "Transfer-Encoding: " + coding + "\r\n\r\n" + smuggled);
    EXPECT_EQ(Count(wire, "HTTP/1.1 "), 1u) << "more than one answer: " << wire;
    EXPECT_EQ(wire.rfind("HTTP/1.1 400 ", 0), 0u) << wire;
    size_t end_of_head = wire.find("\r\n\r\n");
    ASSERT_NE(end_of_head, std::string::npos) << wire;
    std::string body = wire.substr(end_of_head + 4);
    size_t end_of_body = body.find("HTTP/1.1 ");
    if (end_of_body != std::string::npos) body.resize(end_of_body);
    boost::system::error_code ec;
    json::value parsed = json::parse(body, ec);
    ASSERT_FALSE(ec) << body;
    EXPECT_EQ(parsed.at("dm_error").to_number<int64_t>(), 1) << body;
    EXPECT_NE(std::string(parsed.at("error_msg").as_string()).find("Transfer-Encoding"),
              std::string::npos)
        << body;
  }
  ExpectStillServing();
  EXPECT_EQ(TasksAdded(), 0u) << "a smuggled request was executed";
}

// ---------------------------------------------------------------------------------------------
// Nothing already stored is touched.

TEST_F(BadInput, StoredTasksSurviveEveryBadInputUntouched) {
  // Seed: three tasks already due, with distinct due times so that the pull order is known.
  struct Seeded {
    uint64_t id;
    std::string content;
  };
  std::vector<Seeded> seeded;
  for (int i = 0; i < 3; ++i) {
    std::string content =
        R"({"uid":"11111)" + std::to_string(i) + R"(","n":)" + std::to_string(i) + "}";
    json::object added =
        PostJson("/delay/task/add",
                 AddBody(JsonQuoted(kTopic), std::to_string(1565700615 + i), JsonQuoted(content)));
    ASSERT_EQ(added["dm_error"].to_number<int64_t>(), 0);
    seeded.push_back({added["task_id"].to_number<uint64_t>(), content});
  }
  uint64_t added_before = TasksAdded();
  ASSERT_EQ(added_before, seeded.size());

  // Every bad request from the table, on one kept-alive connection.
  int accepted = 0;
  for (const BadRequest& request : BadRequests()) {
    ExpectAnswer(*client_, request);
    if (request.expected_status == 200) ++accepted;
  }
  // Pulling a seeded task by id under another topic must not consume it.
  for (const Seeded& task : seeded) {
    HttpResponse other = client_->Post(
        "/delay/task/pull", R"({"topic":"other","task_id":)" + std::to_string(task.id) + "}");
    EXPECT_EQ(other.status, 404) << other.body;
    EXPECT_EQ(json::parse(other.body).at("dm_error").to_number<int64_t>(), 2) << other.body;
  }
  // Every transport scenario.
  const std::string& address = server_->address();
  GarbageRequestLine(address);
  BinaryNoise(address);
  OversizeHeaderLine(address);
  TooManyHeaders(address);
  ShortBodyThenClose(address);
  NonNumericContentLength(address);
  ConflictingContentLengths(address);
  ChunkedBodyOverLimit(address);
  ExpectContinueOverLimit(address);

  ExpectStillServing();
  HttpClient fresh(address);
  EXPECT_EQ(fresh.Get("/healthz").status, 200);

  // Only the valid requests (the Content-Type cases, in their own topic) added anything.
  EXPECT_EQ(TasksAdded(), added_before + static_cast<uint64_t>(accepted));

  // The seeded tasks come back exactly once each, oldest first, with their content.
  const std::string pull = "{\"topic\":" + JsonQuoted(kTopic) + "}";
  for (const Seeded& task : seeded) {
    HttpResponse response = fresh.Post("/delay/task/pull", pull);
    ASSERT_EQ(response.status, 200) << response.body;
    json::value body = json::parse(response.body);
    EXPECT_EQ(body.at("dm_error").to_number<int64_t>(), 0) << response.body;
    EXPECT_EQ(body.at("task_id").to_number<uint64_t>(), task.id) << response.body;
    EXPECT_EQ(body.at("content").as_string(), task.content) << response.body;
  }
  HttpResponse empty = fresh.Post("/delay/task/pull", pull);
  ASSERT_EQ(empty.status, 200) << empty.body;
  json::value none = json::parse(empty.body);
  EXPECT_EQ(none.at("dm_error").to_number<int64_t>(), 0);
  EXPECT_EQ(none.at("task_id").to_number<uint64_t>(), 0u) << "an extra task was stored";
  EXPECT_EQ(none.at("content").as_string(), "");
}

}  // namespace
}  // namespace delayq
