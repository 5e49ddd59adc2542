#include "api/trace_headers.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace delayq::api {
namespace {

namespace json = boost::json;

constexpr char kParent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr char kOther[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

http::Request WithHeaders(std::vector<std::pair<std::string, std::string>> headers) {
  http::Request request;
  request.method = "POST";
  request.target = "/v1/topics/t/tasks";
  request.headers = std::move(headers);
  return request;
}

TEST(TraceFromHeaders, ReadsBothHeadersWhateverTheirCase) {
  auto trace = TraceFromHeaders(WithHeaders({{"TraceParent", kParent}, {"TRACESTATE", "a=1"}}));
  ASSERT_TRUE(trace) << trace.error().message;
  EXPECT_EQ(trace->traceparent, kParent);
  EXPECT_EQ(trace->tracestate, "a=1");
}

TEST(TraceFromHeaders, JoinsSeveralTracestateHeadersIntoOneList) {
  auto trace = TraceFromHeaders(
      WithHeaders({{"tracestate", "a=1"}, {"traceparent", kParent}, {"tracestate", "b=2"}}));
  ASSERT_TRUE(trace) << trace.error().message;
  EXPECT_EQ(trace->tracestate, "a=1,b=2");
}

TEST(TraceFromHeaders, NoneEmptyOrATracestateAloneIsNoTraceContext) {
  for (const auto& headers : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {}, {{"traceparent", ""}}, {{"tracestate", "a=1"}}}) {
    auto trace = TraceFromHeaders(WithHeaders(headers));
    ASSERT_TRUE(trace) << trace.error().message;
    EXPECT_EQ(trace->traceparent, "");
    EXPECT_EQ(trace->tracestate, "");
  }
}

TEST(TraceFromHeaders, RefusesNamingTheHeaderAndTheForm) {
  auto bad = TraceFromHeaders(WithHeaders({{"traceparent", "00-abc"}}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(bad.error().message,
            "traceparent header is invalid: it must be 55 characters in four dash-separated "
            "fields; expected 00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>, lower case");
  auto state = TraceFromHeaders(WithHeaders({{"traceparent", kParent}, {"tracestate", "x"}}));
  ASSERT_FALSE(state);
  EXPECT_EQ(state.error().message.rfind("tracestate header is invalid: ", 0), 0u)
      << state.error().message;
}

TEST(TraceForItem, AnItemsOwnTraceparentReplacesBothHeaders) {
  TraceFields headers{kParent, "a=1"};
  json::object item =
      json::parse(std::string(R"({"payload":"p","traceparent":")") + kOther + R"("})").as_object();
  auto trace = TraceForItem(item, "tasks[2].", headers);
  ASSERT_TRUE(trace) << trace.error().message;
  EXPECT_EQ(trace->traceparent, kOther);
  EXPECT_EQ(trace->tracestate, "");
  auto inherited = TraceForItem(json::parse(R"({"traceparent":null})").as_object(), "", headers);
  ASSERT_TRUE(inherited);
  EXPECT_EQ(inherited->traceparent, kParent);
  EXPECT_EQ(inherited->tracestate, "a=1");
}

TEST(TraceForItem, RefusesBadFieldsNamingTheItem) {
  TraceFields none;
  auto alone = TraceForItem(json::parse(R"({"tracestate":"a=1"})").as_object(), "tasks[1].", none);
  ASSERT_FALSE(alone);
  EXPECT_EQ(alone.error().message,
            "tasks[1].tracestate needs tasks[1].traceparent in the same task object");
  auto typed = TraceForItem(json::parse(R"({"traceparent":5})").as_object(), "tasks[0].", none);
  ASSERT_FALSE(typed);
  EXPECT_EQ(typed.error().message, "tasks[0].traceparent must be a string, not a number");
  auto empty = TraceForItem(json::parse(R"({"traceparent":""})").as_object(), "", none);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message.rfind("traceparent is invalid: it must not be empty", 0), 0u);
}

}  // namespace
}  // namespace delayq::api
