#include "core/payload.h"

#include <sys/wait.h>
#include <unistd.h>

#include <limits>
#include <set>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace resque {
namespace {

TEST(Payload, DecodesPhpResqueForm) {
  auto p =
      DecodePayload(R"({"class":"PHP_Job","args":[{"time":1795488807,"array":{"test":"test"}}],)"
                    R"("id":"a0582c7f1f4f366d15550bc7cd5778d2","queue_time":1795488807.324839})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->class_name, "PHP_Job");
  EXPECT_EQ(p->args, R"([{"time":1795488807,"array":{"test":"test"}}])");
  EXPECT_EQ(p->id, "a0582c7f1f4f366d15550bc7cd5778d2");
  ASSERT_TRUE(p->queue_time.has_value());
  EXPECT_DOUBLE_EQ(*p->queue_time, 1795488807.324839);
  EXPECT_TRUE(p->extra.empty());
}

TEST(Payload, DecodesNodeResqueFormAndKeepsUnknownFields) {
  auto p = DecodePayload(R"({"class":"Add","queue":"q1","args":[1,2]})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->class_name, "Add");
  EXPECT_EQ(p->args, "[1,2]");
  EXPECT_TRUE(p->id.empty());
  ASSERT_EQ(p->extra.size(), 1u);
  EXPECT_EQ(p->extra[0].first, "queue");
  EXPECT_EQ(p->extra[0].second, "\"q1\"");
  EXPECT_EQ(EncodePayload(*p), R"({"class":"Add","args":[1,2],"queue":"q1"})");
}

TEST(Payload, MissingArgsReadsAsEmptyArray) {
  auto p = DecodePayload(R"({"class":"Ruby"})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->args, "[]");
}

TEST(Payload, EncodesClassArgsIdQueueTimeInThatOrder) {
  Payload p;
  p.class_name = "My\"Job";
  p.args = R"([{"a":1}])";
  p.id = "0123456789abcdef0123456789abcdef";
  p.queue_time = 1700000000.5;
  EXPECT_EQ(EncodePayload(p),
            R"({"class":"My\"Job","args":[{"a":1}],"id":"0123456789abcdef0123456789abcdef",)"
            R"("queue_time":1700000000.5})");
  auto back = DecodePayload(EncodePayload(p));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->class_name, "My\"Job");
}

// node-resque finds a failure to retry by its own JSON.stringify of the record, which embeds the
// payload: queue_time must read as JavaScript (and php's json_encode) would write the same double.
TEST(Payload, QueueTimeIsWrittenAsJavaScriptWritesTheDouble) {
  const auto encoded = [](double t) {
    Payload p;
    p.class_name = "J";
    p.queue_time = t;
    const std::string out = EncodePayload(p);
    const size_t at = out.find("\"queue_time\":");
    return at == std::string::npos ? out : out.substr(at + 13, out.size() - at - 14);
  };
  EXPECT_EQ(encoded(1764088383.12), "1764088383.12");
  EXPECT_EQ(encoded(1764088383.0), "1764088383");
  EXPECT_EQ(encoded(1764088383.1234567), "1764088383.123457");  // microseconds, as microtime()
  EXPECT_EQ(encoded(1764088383.000001), "1764088383.000001");
  EXPECT_EQ(encoded(-0.25), "-0.25");
  EXPECT_EQ(encoded(1e21), "1e+21");
  EXPECT_EQ(encoded(std::numeric_limits<double>::infinity()), "null");  // never invalid JSON
}

TEST(Payload, BadPayloadsAreClearErrors) {
  struct Case {
    const char* json;
    const char* message_part;
  };
  for (const Case& c : {Case{"not json", "not valid JSON"}, Case{"{\"class\":\"A\"", "not valid"},
                        Case{"{\"args\":[]}", "\"class\" is missing"},
                        Case{"{\"class\":7,\"args\":[]}", "\"class\" must be a string"},
                        Case{"{\"class\":\"A\",\"args\":{}}", "\"args\" must be an array"},
                        Case{"{\"class\":\"A\",\"args\":\"x\"}", "\"args\" must be an array"},
                        Case{"[1]", "expected a JSON object"}}) {
    auto p = DecodePayload(c.json);
    ASSERT_FALSE(p.ok()) << c.json;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find(c.message_part), std::string::npos)
        << c.json << " -> " << p.status();
  }
}

TEST(Payload, ArgsFromUserJsonWrapsObjectsAsPhpResqueDoes) {
  EXPECT_EQ(*ArgsFromUserJson(""), "[]");
  EXPECT_EQ(*ArgsFromUserJson("[1,2]"), "[1,2]");
  EXPECT_EQ(*ArgsFromUserJson(R"({"a":1})"), R"([{"a":1}])");
  EXPECT_FALSE(ArgsFromUserJson("5").ok());
  EXPECT_FALSE(ArgsFromUserJson("{bad").ok());
}

TEST(Payload, JobIdsAre32LowercaseHexAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewJobId();
    ASSERT_EQ(id.size(), 32u);
    for (char c : id) ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

// Each thread and each forked child draws its own ids: a child never repeats its parent's next.
TEST(Payload, JobIdsDifferAcrossThreadsAndForks) {
  (void)NewJobId();  // the parent's per-thread pool is filled now
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string id = NewJobId();
    _exit(write(pipe_fds[1], id.data(), id.size()) == 32 ? 0 : 1);
  }
  close(pipe_fds[1]);
  std::string from_child(32, '\0');
  ASSERT_EQ(read(pipe_fds[0], from_child.data(), 32), 32);
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_NE(NewJobId(), from_child);

  std::string from_thread;
  std::thread([&] { from_thread = NewJobId(); }).join();
  std::set<std::string> seen = {from_child, from_thread};
  for (int i = 0; i < 300; ++i) seen.insert(NewJobId());  // past one pool of 256
  EXPECT_EQ(seen.size(), 302u);
}

}  // namespace
}  // namespace resque
