// The Kafka test harness itself: the mock cluster process speaks real Kafka to a client that
// is not delayq's code (kcat), and its fault commands take effect.

#include "support/kafka_mock.h"

#include <gtest/gtest.h>

#include "support/test_util.h"

namespace delayq::testing {
namespace {

TEST(KafkaMock, KcatProducesAndReadsBackKeysValuesAndHeaders) {
  KafkaMock mock;
  ASSERT_TRUE(mock.Start()) << mock.last_error();
  ASSERT_TRUE(mock.CreateTopic("harness", 2));
  std::string produced =
      RunCommand("printf 'v1\\nv2\\n' | /usr/bin/kcat -P -b " + mock.bootstrap() +
                 " -t harness -k same-key -H h1=one -H h2=two 2>&1; echo rc=$?");
  ASSERT_NE(produced.find("rc=0"), std::string::npos) << produced;
  std::string error;
  std::vector<KafkaMessage> messages = ReadTopicWithKcat(mock.bootstrap(), "harness", &error);
  ASSERT_EQ(messages.size(), 2u) << error;
  EXPECT_EQ(messages[0].value, "v1");
  EXPECT_EQ(messages[1].value, "v2");
  for (const KafkaMessage& m : messages) {
    EXPECT_EQ(m.key, "same-key");
    EXPECT_EQ(m.headers.at("h1"), "one");
    EXPECT_EQ(m.headers.at("h2"), "two");
    EXPECT_EQ(m.partition, messages[0].partition);  // one key, one partition
  }
}

TEST(KafkaMock, BrokersDownRefuseClientsUntilUp) {
  KafkaMock mock;
  ASSERT_TRUE(mock.Start()) << mock.last_error();
  ASSERT_TRUE(mock.CreateTopic("downs", 1));
  ASSERT_TRUE(mock.BrokersDown());
  // -m 2: kcat gives up on metadata after 2 s; with every broker down it cannot produce.
  std::string down =
      RunCommand("printf 'x\\n' | timeout 20 /usr/bin/kcat -P -b " + mock.bootstrap() +
                 " -t downs -m 2 -X message.timeout.ms=2000 " + ">/dev/null 2>&1; echo rc=$?");
  EXPECT_EQ(down.find("rc=0"), std::string::npos) << down;
  ASSERT_TRUE(mock.BrokersUp());
  std::string up = RunCommand("printf 'y\\n' | /usr/bin/kcat -P -b " + mock.bootstrap() +
                              " -t downs 2>&1; echo rc=$?");
  ASSERT_NE(up.find("rc=0"), std::string::npos) << up;
  std::vector<KafkaMessage> messages = ReadTopicWithKcat(mock.bootstrap(), "downs");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].value, "y");
}

TEST(KafkaMock, AnswersUnknownCommandsWithAnError) {
  KafkaMock mock;
  ASSERT_TRUE(mock.Start()) << mock.last_error();
  EXPECT_EQ(mock.Command("bogus").rfind("error ", 0), 0u);
  EXPECT_EQ(mock.Command("down 1"), "ok");
  EXPECT_EQ(mock.Command("up 1"), "ok");
}

}  // namespace
}  // namespace delayq::testing
