// Our running `resque work` processes, as Ruby resque's and php-resque's pruning see them: each
// peer lists the worker pids of its host with its own `ps | grep` pipeline (run here with
// /bin/sh exactly as its code states it) and splits each registered id at ':'. A slot whose pid
// field is not among those pids, or (Ruby) whose queue set differs from the pruner's, is
// unregistered as dead. Against a real redis-server and real processes.
#include <signal.h>
#include <stdlib.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace resque::testing {
namespace {

// lib/resque/worker.rb, linux_worker_pids.
constexpr char kRubyPipeline[] =
    R"(ps -A -o pid,command | grep -E "[r]esque:work|[r]esque:\sStarting|[r]esque-[0-9]" | grep -v "resque-web")";
// lib/Resque/Worker.php, workerPids.
constexpr char kPhpPipeline[] = "ps -A -o pid,command | grep [r]esque";

class PeerPruningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis().Flush().ok());
    // php-resque's pattern is unquoted: the shell would glob it against a file named "resque"
    // in the directory it runs in. Run the pipelines where there is none, as a worker would.
    char dir_template[] = "/tmp/resque-prune-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
  }
  void TearDown() override { std::system(absl::StrCat("rm -rf ", dir_).c_str()); }

  static RedisServer& redis() { return RedisServer::Shared(); }

  std::unique_ptr<Subprocess> StartWorker(const std::vector<std::string>& flags) {
    std::vector<std::string> argv = {
        RESQUE_BINARY, "--redis", absl::StrFormat("redis://127.0.0.1:%d", redis().port()),
        "work",        "--queue", "high,low",
        "--interval",  "0.1",     "--exec",
        "Noop=true"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return std::make_unique<Subprocess>(argv);
  }

  // The ids in <ns>:workers once there are `n` of them (15 s at most; fewer on timeout).
  std::vector<std::string> RegisteredIds(size_t n) {
    std::vector<std::string> ids;
    const absl::Time end = absl::Now() + absl::Seconds(15);
    while (absl::Now() < end) {
      absl::StatusOr<std::string> members = redis().Command({"SMEMBERS", "resque:workers"});
      if (!members.ok()) break;
      ids = absl::StrSplit(*members, '\n', absl::SkipEmpty());
      if (ids.size() >= n) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return ids;
  }

  // The pipeline's lines, each cut to its first field as `first_field` does.
  template <typename FirstField>
  std::set<std::string> ListedPids(const char* pipeline, FirstField first_field) {
    absl::StatusOr<ProcessResult> r =
        RunProcess({"/bin/sh", "-c", pipeline}, absl::Seconds(15), dir_);
    EXPECT_TRUE(r.ok()) << r.status();
    std::set<std::string> pids;
    if (!r.ok()) return pids;
    for (absl::string_view line : absl::StrSplit(r->out, '\n', absl::SkipEmpty())) {
      pids.insert(first_field(line));
    }
    return pids;
  }

  // Ruby: `line.split(' ')[0]`, runs of whitespace as one separator, leading ones dropped.
  std::set<std::string> RubyPids() {
    return ListedPids(kRubyPipeline, [](absl::string_view line) {
      std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
      return fields.empty() ? std::string() : fields[0];
    });
  }
  // PHP: `explode(' ', trim($line), 2)[0]`.
  std::set<std::string> PhpPids() {
    return ListedPids(kPhpPipeline, [](absl::string_view line) {
      std::vector<std::string> fields =
          absl::StrSplit(absl::StripAsciiWhitespace(line), absl::MaxSplits(' ', 1));
      return fields[0];
    });
  }

  // What each peer's pruning reads of every id: the pid field is listed, and Ruby, listening on
  // "high,low", sees the queue set it listens on.
  void ExpectEveryIdSpared(const std::vector<std::string>& ids) {
    const std::set<std::string> ruby = RubyPids();
    const std::set<std::string> php = PhpPids();
    const std::set<std::string> ruby_queues = {"high", "low"};
    for (const std::string& id : ids) {
      // Ruby: `host, pid, worker_queues_raw = worker.id.split(':')`.
      std::vector<std::string> r = absl::StrSplit(id, ':');
      ASSERT_GE(r.size(), 3u) << id;
      EXPECT_TRUE(ruby.count(r[1])) << "Ruby would prune " << id << ": pid field \"" << r[1]
                                    << "\" is not listed by its ps pipeline";
      std::vector<std::string> queues = absl::StrSplit(r[2], ',');
      EXPECT_EQ(std::set<std::string>(queues.begin(), queues.end()), ruby_queues) << id;
      // PHP: `list($host, $pid, $queues) = explode(':', (string)$worker, 3)`.
      std::vector<std::string> p = absl::StrSplit(id, absl::MaxSplits(':', 2));
      ASSERT_EQ(p.size(), 3u) << id;
      EXPECT_TRUE(php.count(p[1])) << "php-resque would prune " << id << ": pid field \"" << p[1]
                                   << "\" is not listed by its ps pipeline";
    }
  }

  static void Stop(Subprocess& worker) {
    worker.Signal(SIGTERM);
    RunResult done = worker.Wait(absl::Seconds(15));
    EXPECT_EQ(done.exit_code, 0) << done.err;
  }

  std::string dir_;
};

TEST_F(PeerPruningTest, EverySlotOfAConcurrentWorkerIsSparedByRubyAndPhpPruning) {
  std::unique_ptr<Subprocess> worker = StartWorker({"--concurrency", "4"});
  const std::vector<std::string> ids = RegisteredIds(4);
  ASSERT_EQ(ids.size(), 4u) << worker->Wait(absl::Seconds(1)).err;
  for (const std::string& id : ids) {
    EXPECT_EQ(std::vector<std::string>(absl::StrSplit(id, ':'))[1],
              absl::StrFormat("%d", worker->pid()))
        << id;
  }
  ExpectEveryIdSpared(ids);
  Stop(*worker);
}

TEST_F(PeerPruningTest, EveryProcessOfACountedWorkerIsSparedByRubyAndPhpPruning) {
  std::unique_ptr<Subprocess> worker = StartWorker({"--count", "2", "--concurrency", "2"});
  const std::vector<std::string> ids = RegisteredIds(4);
  ASSERT_EQ(ids.size(), 4u) << worker->Wait(absl::Seconds(1)).err;
  std::set<std::string> pids;
  for (const std::string& id : ids)
    pids.insert(std::vector<std::string>(absl::StrSplit(id, ':'))[1]);
  EXPECT_EQ(pids.size(), 2u);  // two processes, two slots each
  ExpectEveryIdSpared(ids);
  Stop(*worker);
}

TEST_F(PeerPruningTest, AOneSlotWorkerIsSparedByRubyAndPhpPruning) {
  std::unique_ptr<Subprocess> worker = StartWorker({});
  const std::vector<std::string> ids = RegisteredIds(1);
  ASSERT_EQ(ids.size(), 1u) << worker->Wait(absl::Seconds(1)).err;
  ExpectEveryIdSpared(ids);
  Stop(*worker);
}

}  // namespace
}  // namespace resque::testing
