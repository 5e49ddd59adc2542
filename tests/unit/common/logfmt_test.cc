#include "common/logfmt.h"

#include <gtest/gtest.h>

namespace delayq {
namespace {

TEST(LogValue, PlainValuesStayBare) {
  EXPECT_EQ(LogValue("abc-123"), "abc-123");
  EXPECT_EQ(LogValue("/v1/topics/{topic}/tasks"), "/v1/topics/{topic}/tasks");
  EXPECT_EQ(LogValue("127.0.0.1:5000"), "127.0.0.1:5000");
}

TEST(LogValue, AnythingThatCouldBreakTheLineIsQuotedAndEscaped) {
  EXPECT_EQ(LogValue(""), "\"\"");
  EXPECT_EQ(LogValue("two words"), "\"two words\"");
  EXPECT_EQ(LogValue("a=b"), "\"a=b\"");
  EXPECT_EQ(LogValue(R"(say "hi")"), R"("say \"hi\"")");
  EXPECT_EQ(LogValue(R"(back\slash)"), R"("back\\slash")");
  // A forged second event in a path stays inside one quoted value on one line.
  EXPECT_EQ(LogValue("/x\nts=1 level=error msg=forged"), R"("/x\nts=1 level=error msg=forged")");
  EXPECT_EQ(LogValue(std::string("a\x01z", 3)), R"("a\x01z")");
}

}  // namespace
}  // namespace delayq
