// Interop with real Ruby (Debian's `ruby`, and its redis gem `ruby-redis` when installed): what
// Ruby resque's Resque.dequeue(klass, *args) does to our payloads, run as its code states it
// (lib/resque/job.rb `destroy`: LREM of `Resque.encode(:class => klass, :args => args)`, which
// is MultiJson.dump, or JSON.generate where MultiJson is not installed; they write the same).
// CI cannot fetch Ruby resque itself, so the scripts here do what its code does.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "backends/redis/redis_backend.h"
#include "core/queue.h"
#include "core/ruby_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_testing.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace resque::testing {
namespace {

using ::testing::ElementsAre;

constexpr absl::Duration kRubyDeadline = absl::Seconds(60);

// Resque.encode as Ruby resque defines it, on whichever JSON library this Ruby has.
constexpr char kEncode[] = R"rb(
require 'json'
begin; require 'multi_json'; rescue LoadError; end
def encode(o) = defined?(MultiJson) ? MultiJson.dump(o) : JSON.generate(o)
)rb";

// Runs `ruby -e <script> <args...>`; its stdout. Records a test failure when it fails.
std::string Ruby(const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ruby", "-e", absl::StrCat(kEncode, script)};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<ProcessResult> r = RunProcess(argv, kRubyDeadline);
  if (!r.ok()) {
    ADD_FAILURE() << r.status();
    return "";
  }
  EXPECT_FALSE(r->timed_out) << "ruby ran past " << kRubyDeadline << "\n" << r->err;
  EXPECT_EQ(r->exit_code, 0) << r->err;
  return r->out;
}

class RubyInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    const absl::StatusOr<ProcessResult> ruby =
        RunProcess({"ruby", "-rjson", "-e", "exit 0"}, kRubyDeadline);
    if (!ruby.ok() || ruby->exit_code != 0) {
      // scripts/test.sh installs ruby (scripts/deps.sh) and sets this: there, a missing ruby is
      // a failure, never a silent skip.
      const char* required = std::getenv("RESQUE_REQUIRE_PEERS");
      if (required != nullptr && *required != '\0') {
        FAIL() << "ruby is not installed (scripts/deps.sh installs Debian's ruby and ruby-redis)";
      }
      GTEST_SKIP() << "ruby is not installed: apt-get install ruby ruby-redis "
                      "(scripts/deps.sh does)";
    }
    char dir_template[] = "/tmp/resque-ruby-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    ASSERT_OK(RedisServer::Shared().Flush());
    absl::StatusOr<std::unique_ptr<Backend>> backend =
        redis::NewRedisBackend(RedisServer::Shared().Options());
    ASSERT_OK(backend);
    backend_ = *std::move(backend);
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(absl::StrCat("rm -rf ", dir_).c_str());
  }

  Backend& backend() { return *backend_; }

  std::string dir_;
  std::unique_ptr<Backend> backend_;
};

// Lines of JSON values, each a case where writers tend to differ.
std::vector<std::string> Corpus() {
  std::vector<std::string> lines = {
      R"(["a/b","\/","\u00e9é€","\ud83d\ude00","\u2028\u2029","<>&'"])",
      R"(["\u0000\u0001\u0008\u0009\u000a\u000b\u000c\u000d\u001f\u007f\"\\"])",
      R"([0,-0,1,-1,123456789012345678901234567890,-98765432109876543210])",
      R"([0.0,-0.0,1.0,10.0,1e2,1E2,1.0E+2,1e-400,-1e-400,0e0,100.0e-2,-1.5,3.14159])",
      R"([1e15,1e16,1e20,1e21,1.5e300,1.7976931348623157e308,5e-324,2.2250738585072014e-308])",
      R"([999999999999999.0,1234567890123456.0,1234567890123456.8,12345678901234567.0])",
      R"([0.001,0.0001,0.00001,0.000123,0.0000123,9.999e-5,1.25e-4,2.5e-7,123.456e-10])",
      R"([0.1,0.2,0.30000000000000004,9007199254740993,9007199254740993.0,4.611686018427388e18])",
      R"({"b":1,"a":2,"b":3})",
      R"([{},[],[[]],{"":null},true,false,null])",
      R"([ 1 , { "k" : [ "v" ] } ])",
      R"("top")",
      "42",
      "-0.5",
  };
  // Doubles of every size, with as many digits as they take: the shortest-digits choice and the
  // exponent form have to agree with Ruby's Float#to_s on each.
  std::mt19937_64 random(20261201);
  for (int line = 0; line < 30; ++line) {
    std::string numbers = "[";
    for (int i = 0; i < 100; ++i) {
      double d;
      do {
        const uint64_t bits = random();
        std::memcpy(&d, &bits, sizeof d);
      } while (!std::isfinite(d));
      if (line % 2 == 0) {  // magnitudes from 2^-60 to 2^56, across both of Ruby's thresholds
        int exponent = 0;
        d = std::ldexp(std::frexp(d, &exponent), line * 4 - 60);
      }
      std::string text = absl::StrFormat(i % 2 ? "%.17g" : "%.6g", d);
      if (text.find_first_of(".eE") == std::string::npos) text += ".0";
      absl::StrAppend(&numbers, i ? "," : "", text);
    }
    lines.push_back(numbers + "]");
  }
  return lines;
}

TEST_F(RubyInterop, RubyJsonWritesWhatRubyWrites) {
  const std::vector<std::string> corpus = Corpus();
  const std::string input = dir_ + "/corpus";
  {
    std::ofstream out(input);
    for (const std::string& line : corpus) out << line << "\n";
  }
  const std::string out = Ruby(R"rb(
File.foreach(ARGV[0]) { |l| puts encode(JSON.parse(l.chomp)) }
)rb",
                               {input});
  std::vector<std::string> ruby = absl::StrSplit(out, '\n');
  ASSERT_EQ(ruby.size(), corpus.size() + 1) << out;  // and the empty string after the last
  for (size_t i = 0; i < corpus.size(); ++i) {
    absl::StatusOr<std::string> ours = RubyJson(corpus[i]);
    ASSERT_OK(ours);
    EXPECT_EQ(*ours, ruby[i]) << "for " << corpus[i];
  }
}

TEST_F(RubyInterop, RubyJsonRefusesWhatRubyCannotWrite) {
  EXPECT_CODE(RubyJson("[1e400]"), kInvalidArgument);
  EXPECT_CODE(RubyJson("[1,"), kInvalidArgument);
  EXPECT_CODE(RubyJson("1,2"), kInvalidArgument);
  EXPECT_CODE(RubyJson(""), kInvalidArgument);
  const std::string out = Ruby(R"rb(
begin; encode(JSON.parse('[1e400]')); puts 'written'; rescue StandardError; puts 'refused'; end
)rb",
                               {});
  EXPECT_EQ(out, "refused\n");
}

// Resque.dequeue(klass, *args) as lib/resque/job.rb has it: one LREM of Ruby's own encoding,
// sent by Ruby's redis gem when this Ruby has it, else computed by Ruby and sent from here.
int64_t RubyDequeue(const std::string& queue, const std::string& klass,
                    const std::string& args_json) {
  const std::string out =
      Ruby(R"rb(
queue, klass, args_json, port = ARGV
data = encode(:class => klass, :args => JSON.parse(args_json))
begin
  require 'redis'
rescue LoadError
  puts "BYTES #{data}"
  exit 0
end
puts "REMOVED #{Redis.new(host: '127.0.0.1', port: port.to_i).lrem("resque:queue:#{queue}", 0, data)}"
)rb",
           {queue, klass, args_json, absl::StrCat(RedisServer::Shared().port())});
  absl::string_view line = absl::StripTrailingAsciiWhitespace(out);
  int64_t removed = -1;
  if (absl::ConsumePrefix(&line, "REMOVED ")) {
    EXPECT_TRUE(absl::SimpleAtoi(line, &removed)) << out;
    return removed;
  }
  absl::string_view bytes = line;
  EXPECT_TRUE(absl::ConsumePrefix(&bytes, "BYTES ")) << out;
  absl::StatusOr<std::string> r = RedisServer::Shared().Command(
      {"LREM", absl::StrCat("resque:queue:", queue), "0", std::string(bytes)});
  EXPECT_OK(r);
  EXPECT_TRUE(r.ok() && absl::SimpleAtoi(*r, &removed)) << (r.ok() ? *r : "");
  return removed;
}

TEST_F(RubyInterop, RubyDequeueWithArgsRemovesOurRubyFormJobs) {
  Queue queue(backend());
  // Args as a user writes them, spaced and escaped as they like: Ruby's dequeue gets the values.
  const std::string args = R"([ "a\/b", 1.0, 1e20, {"k": "\u00e9", "n": -0}, [null, true] ])";
  const std::string ruby_args = R"(["a/b",1.0,1.0e+20,{"k":"é","n":0},[null,true]])";
  absl::StatusOr<std::string> id = queue.Enqueue("q", "Archive", args, {.ruby_form = true});
  ASSERT_OK(id);
  EXPECT_EQ(*id, "");
  ASSERT_OK(queue.Enqueue("q", "Archive", R"(["other"])", {.ruby_form = true}));
  ASSERT_OK(queue.Enqueue("q", "Archive", args));  // our default form: id and queue_time
  EXPECT_EQ(Value(backend().Peek("q", 0, 1)),
            std::vector<std::string>{R"({"class":"Archive","args":)" + ruby_args + "}"});

  EXPECT_EQ(RubyDequeue("q", "Archive", ruby_args), 1);
  // What is left: the job of other args, and ours with an id, which Ruby's LREM cannot match
  // (docs/wire-format.md says why it keeps them and what removes them instead).
  const std::vector<std::string> left = Value(backend().Peek("q", 0, 10));
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0], R"({"class":"Archive","args":["other"]})");
  EXPECT_THAT(left[1], ::testing::HasSubstr(R"("id":")"));
  EXPECT_EQ(RubyDequeue("q", "Archive", ruby_args), 0);
  // resque's own dequeue matches by value, so it removes the default form too.
  EXPECT_EQ(Value(queue.Dequeue("q", {.class_name = "Archive", .args = ruby_args})), 1);
  EXPECT_THAT(Value(backend().Peek("q", 0, 10)),
              ElementsAre(R"({"class":"Archive","args":["other"]})"));
}

TEST_F(RubyInterop, RubyFormRefusesTrackingAnIdAndArgsRubyCannotWrite) {
  Queue queue(backend());
  EXPECT_CODE(queue.Enqueue("q", "K", "[]", {.track = true, .ruby_form = true}), kInvalidArgument);
  EXPECT_CODE(queue.Enqueue("q", "K", "[]", {.id = "abc", .ruby_form = true}), kInvalidArgument);
  EXPECT_CODE(queue.Enqueue("q", "K", "[1e400]", {.ruby_form = true}), kInvalidArgument);
  EXPECT_CODE(queue.Enqueue("q", "K\xff", "[]", {.ruby_form = true}), kInvalidArgument);
  EXPECT_EQ(Value(backend().Size("q")), 0);
}

}  // namespace
}  // namespace resque::testing
