// core/names.h: which queue, class and namespace names every worker can take, the queue list of a
// worker, and how any text shows as one field of one line. Queue::Enqueue refuses the same names
// on any backend.
#include "core/names.h"

#include <string>
#include <vector>

#include "backends/memory/memory_backend.h"
#include "core/queue.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace resque {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(NamesTest, QueueNamesThatEveryWorkerCanTakeAreAccepted) {
  for (const char* name :
       {"default", "mail-high", "jobs:2", "a.b/c", "{tenant}", "naïve", "队列", "x!", "a'b"}) {
    EXPECT_TRUE(CheckQueueName(name).ok()) << name << ": " << CheckQueueName(name);
  }
  EXPECT_TRUE(CheckQueueName(std::string(kMaxQueueNameBytes, 'q')).ok());
}

TEST(NamesTest, QueueNamesAWorkerCannotTakeAreRefusedSayingWhy) {
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"", "queue name is empty"},
      {"a,b", "queue name 'a,b' has a ',': workers split their queue lists at ','"},
      {"*", "queue name '*' has a '*': Ruby resque's workers read it as a glob"},
      {"high*", "has a '*'"},
      {"a?", "has a '?'"},
      {"a[1]", "has a '['"},
      {"!low", "queue name '!low' starts with '!'"},
      {"a b", "queue name 'a b' has a space"},
      {"a\\b", "queue name 'a\\\\b' has a '\\'"},
      {"x\ny", "queue name 'x\\ny' has a control character (\\n)"},
      {"tab\there", "has a control character (\\t)"},
      {"del\x7f", "has a control character (\\x7f)"},
      {"nel\xc2\x85", "has a control character (\\xc2\\x85)"},
      {"bad\xff", "queue name 'bad\\xff' is not valid UTF-8 (byte 3)"},
      {"cut\xc3", "is not valid UTF-8"},
      {std::string(kMaxQueueNameBytes + 1, 'q'), "is 257 bytes: at most 256"},
  };
  for (const auto& [name, why] : refused) {
    const absl::Status s = CheckQueueName(name);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << name;
    EXPECT_THAT(Message(s), HasSubstr(why)) << name;
    EXPECT_EQ(Message(s).find('\n'), std::string::npos) << Message(s);
  }
}

TEST(NamesTest, ClassNamesMayHoldSpacesButNoControlCharactersOrBadUtf8) {
  EXPECT_TRUE(CheckClassName("Mailer::Deliver").ok());
  EXPECT_TRUE(CheckClassName("My Job, v2*").ok());
  EXPECT_EQ(Message(CheckClassName("")), "job class name is empty");
  EXPECT_THAT(Message(CheckClassName("A\nB")),
              HasSubstr("job class name 'A\\nB' has a control character (\\n)"));
  EXPECT_THAT(Message(CheckClassName("A\xfe")), HasSubstr("is not valid UTF-8"));
  EXPECT_THAT(Message(CheckClassName(std::string(kMaxClassNameBytes + 1, 'C'))),
              HasSubstr("at most 1024"));
}

TEST(NamesTest, NamespacesAreOneWordOfText) {
  EXPECT_TRUE(CheckNamespace("resque").ok());
  EXPECT_TRUE(CheckNamespace("app:resque").ok());
  EXPECT_EQ(Message(CheckNamespace("")), "namespace is empty");
  EXPECT_THAT(Message(CheckNamespace("my app")), HasSubstr("namespace 'my app' has a space"));
  EXPECT_THAT(Message(CheckNamespace("ns\t")), HasSubstr("has a control character (\\t)"));
  EXPECT_THAT(Message(CheckNamespace("ns\x80")), HasSubstr("is not valid UTF-8"));
}

TEST(NamesTest, AQueueListSplitsAtCommasStripsSpacesAndKeepsTheStarAlone) {
  EXPECT_THAT(ParseQueueList("high,low").value(), ElementsAre("high", "low"));
  EXPECT_THAT(ParseQueueList(" high , low ").value(), ElementsAre("high", "low"));
  EXPECT_THAT(ParseQueueList("*").value(), ElementsAre("*"));
  EXPECT_THAT(ParseQueueList("urgent,*").value(), ElementsAre("urgent", "*"));
  EXPECT_EQ(Message(ParseQueueList(" ").status()), "queue list is empty: give q1,q2 or '*'");
  EXPECT_THAT(Message(ParseQueueList("a,,b").status()),
              HasSubstr("queue list 'a,,b' has an empty"));
  EXPECT_THAT(Message(ParseQueueList("a,").status()), HasSubstr("has an empty name"));
  EXPECT_THAT(Message(ParseQueueList("high*").status()),
              HasSubstr("queue list entry 'high*' is a pattern: resque work takes '*' alone"));
  EXPECT_THAT(Message(ParseQueueList("a,!b").status()), HasSubstr("entry '!b' is a pattern"));
  EXPECT_THAT(Message(ParseQueueList("a b").status()), HasSubstr("queue name 'a b' has a space"));
  EXPECT_THAT(Message(ParseQueueList("a\nb").status()), HasSubstr("'a\\nb' has a control"));
}

TEST(NamesTest, EscapeFieldKeepsEveryRecordOnOneLineAndCanBeReadBack) {
  EXPECT_EQ(EscapeField("plain naïve 队列"), "plain naïve 队列");
  EXPECT_EQ(EscapeField("x\ny\tz\r"), "x\\ny\\tz\\r");
  EXPECT_EQ(EscapeField("back\\slash"), "back\\\\slash");
  EXPECT_EQ(EscapeField(std::string("nul\0esc\x1b del\x7f", 13)), "nul\\x00esc\\x1b del\\x7f");
  EXPECT_EQ(EscapeField("bad\xff\xc3"), "bad\\xff\\xc3");
  EXPECT_EQ(EscapeField("nel\xc2\x85."), "nel\\xc2\\x85.");
  // A literal backslash-n and a newline show apart.
  EXPECT_NE(EscapeField("x\\ny"), EscapeField("x\ny"));
}

TEST(NamesTest, EscapeJsonFieldKeepsJsonsOwnBackslashes) {
  EXPECT_EQ(EscapeJsonField(R"({"a":"q\"uote\/"})"), R"({"a":"q\"uote\/"})");
  EXPECT_EQ(EscapeJsonField("{\"a\":\n\"x\ty\xff\"}"), R"({"a":\n"x\ty\xff"})");
}

TEST(NamesTest, QueueEnqueueRefusesNamesOnAnyBackend) {
  std::unique_ptr<Backend> backend = memory::NewMemoryBackend();
  Queue queue(*backend);
  EXPECT_THAT(Message(queue.Enqueue("a,b", "Job").status()), HasSubstr("has a ','"));
  EXPECT_THAT(Message(queue.Enqueue("q", "A\nB").status()), HasSubstr("control character"));
  EXPECT_THAT(Message(queue.EnqueuePayload("*", Payload{})), HasSubstr("has a '*'"));
  EXPECT_TRUE(queue.Enqueue("q", "Job").ok());
  EXPECT_THAT(queue.Queues().value(), ElementsAre("q"));
}

}  // namespace
}  // namespace resque
