// ChildProcess from several threads at once, as worker slots use it: children started together
// each get their own pipes only, and a kill from another thread ends a wait. Run under TSan.
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/child_process.h"
#include "gtest/gtest.h"

namespace resque {
namespace {

TEST(ChildProcessConcurrencyTest, ThreadsStartingChildrenAtOnceEachGetTheirOwnOutput) {
  constexpr int kThreads = 6;
  constexpr int kRounds = 15;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &wrong] {
      for (int r = 0; r < kRounds; ++r) {
        const std::string input = absl::StrCat("thread ", t, " round ", r, "\n");
        if ((t + r) % 3 == 0) {
          // A function child, as fork mode makes them, between the exec'd ones.
          absl::StatusOr<std::unique_ptr<ChildProcess>> child =
              ChildProcess::Fork([&input](int report) {
                return write(report, input.data(), input.size()) ==
                               static_cast<ssize_t>(input.size())
                           ? 0
                           : 1;
              });
          absl::StatusOr<ChildExit> exit =
              child.ok() ? (*child)->Wait(absl::Now() + absl::Seconds(30)) : child.status();
          if (!exit.ok() || !exit->Succeeded() || (*child)->report() != input) ++wrong;
          continue;
        }
        ExecOptions options;
        options.argv = {"cat"};
        options.stdin_data = input;
        options.stdout_to = Output::Capture();
        absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Exec(options);
        absl::StatusOr<ChildExit> exit =
            child.ok() ? (*child)->Wait(absl::Now() + absl::Seconds(30)) : child.status();
        if (!exit.ok() || !exit->Succeeded() || (*child)->out() != input) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(ChildProcessConcurrencyTest, AFunctionChildHoldsNoOtherChildsPipe) {
  // cat ends when its stdin is closed; a function child forked while cat runs would keep cat's
  // stdin open (and so cat running) if it kept this process's end of that pipe.
  ExecOptions options;
  options.argv = {"cat"};
  options.stdin_data = "some input";
  options.stdout_to = Output::Capture();
  absl::StatusOr<std::unique_ptr<ChildProcess>> cat = ChildProcess::Exec(options);
  ASSERT_TRUE(cat.ok()) << cat.status();
  absl::StatusOr<std::unique_ptr<ChildProcess>> sleeper = ChildProcess::Fork([](int) {
    pause();
    return 0;
  });
  ASSERT_TRUE(sleeper.ok()) << sleeper.status();
  absl::StatusOr<ChildExit> exit = (*cat)->Wait(absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ((*cat)->out(), "some input");
  EXPECT_EQ((*sleeper)->Terminate().signal, SIGKILL);
}

TEST(ChildProcessConcurrencyTest, AKillFromAnotherThreadEndsTheWait) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Fork([](int) {
    pause();
    return 0;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  ChildProcess& running = **child;
  std::thread stopper([&running] { EXPECT_TRUE(running.Kill().ok()); });
  absl::StatusOr<ChildExit> exit = running.Wait(absl::Now() + absl::Seconds(20));
  stopper.join();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->signal, SIGKILL);
}

TEST(ChildProcessConcurrencyTest, SignalsRacingTheEndNeverReachAReapedPid) {
  for (int i = 0; i < 20; ++i) {
    ExecOptions options;
    options.argv = {"true"};
    absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Exec(options);
    ASSERT_TRUE(child.ok()) << child.status();
    ChildProcess& running = **child;
    std::atomic<bool> done{false};
    std::thread signaller([&] {
      // OK while it runs, FailedPrecondition once reaped; never a kill of a recycled pid.
      while (!done.load()) {
        absl::Status s = running.Signal(0);
        EXPECT_TRUE(s.ok() || absl::IsFailedPrecondition(s)) << s;
      }
    });
    absl::StatusOr<ChildExit> exit = running.Wait(absl::Now() + absl::Seconds(20));
    done.store(true);
    signaller.join();
    ASSERT_TRUE(exit.ok()) << exit.status();
    EXPECT_TRUE(exit->Succeeded());
  }
}

}  // namespace
}  // namespace resque
