// ChildProcess: how children end, what is fed and captured, and that a kill reaches what the
// child started. Real processes (/bin/sh, cat, sleep); no test sleeps to let things happen.
#include "core/child_process.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace resque {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<ChildProcess> Start(ExecOptions options) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Exec(options);
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? *std::move(child) : nullptr;
}

ExecOptions Shell(const std::string& script) {
  ExecOptions options;
  options.argv = {"/bin/sh", "-c", script};
  return options;
}

// `script` with stdout and stderr captured, `limit` bytes each.
ExecOptions ShellCaptured(const std::string& script, size_t limit) {
  ExecOptions options = Shell(script);
  options.stdout_to = Output::Capture();
  options.stderr_to = Output::Capture();
  options.capture_limit = limit;
  return options;
}

ChildExit WaitFor(ChildProcess& child, absl::Duration limit = absl::Seconds(20)) {
  absl::StatusOr<ChildExit> exit = child.Wait(absl::Now() + limit);
  EXPECT_TRUE(exit.ok()) << exit.status();
  return exit.ok() ? *exit : ChildExit{};
}

// Whether `pid` is gone: no such process, or a zombie that init is about to reap.
bool Gone(pid_t pid) {
  if (kill(pid, 0) != 0) return true;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || line.substr(paren + 2, 1) == "Z";
}

bool GoneWithin(pid_t pid, absl::Duration limit) {
  const absl::Time end = absl::Now() + limit;
  while (!Gone(pid)) {
    if (absl::Now() > end) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// The children of `parent`, from /proc.
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
    std::string line;
    std::getline(stat, line);
    const size_t paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    std::vector<std::string> fields = absl::StrSplit(line.substr(paren + 2), ' ');
    int ppid = 0;
    if (fields.size() > 1 && absl::SimpleAtoi(fields[1], &ppid) && ppid == parent) {
      out.push_back(pid);
    }
  }
  closedir(proc);
  return out;
}

TEST(ChildProcessTest, ReportsTheExitCode) {
  std::unique_ptr<ChildProcess> child = Start(Shell("exit 3"));
  ASSERT_NE(child, nullptr);
  const ChildExit exit = WaitFor(*child);
  EXPECT_EQ(exit.exit_code, 3);
  EXPECT_EQ(exit.signal, 0);
  EXPECT_FALSE(exit.Succeeded());
  EXPECT_EQ(exit.Describe(), "exited with 3");
}

TEST(ChildProcessTest, ReportsTheSignalThatEndedIt) {
  std::unique_ptr<ChildProcess> child = Start(Shell("kill -TERM $$"));
  ASSERT_NE(child, nullptr);
  const ChildExit exit = WaitFor(*child);
  EXPECT_EQ(exit.exit_code, -1);
  EXPECT_EQ(exit.signal, SIGTERM);
  EXPECT_THAT(exit.Describe(), StartsWith("killed by signal 15"));
}

TEST(ChildProcessTest, WaitAgainAfterTheEndReturnsTheSameExit) {
  std::unique_ptr<ChildProcess> child = Start(Shell("exit 7"));
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(WaitFor(*child).exit_code, 7);
  EXPECT_EQ(WaitFor(*child).exit_code, 7);
  EXPECT_TRUE(absl::IsFailedPrecondition(child->Signal(SIGTERM)));
}

TEST(ChildProcessTest, AKillAtTheDeadlineAlsoKillsTheCommandUnderTheShell) {
  // "; true" keeps the shell from exec'ing sleep: sleep is its child, as in any longer script.
  std::unique_ptr<ChildProcess> child = Start(Shell("sleep 30; true"));
  ASSERT_NE(child, nullptr);
  std::vector<pid_t> grandchildren;
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (grandchildren.empty() && absl::Now() < end) {
    grandchildren = ChildrenOf(child->pid());
    if (grandchildren.empty()) absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(grandchildren.size(), 1u);

  const absl::Time start = absl::Now();
  absl::StatusOr<ChildExit> exit = child->Wait(absl::Now() + absl::Milliseconds(200));
  EXPECT_TRUE(absl::IsDeadlineExceeded(exit.status())) << exit.status();
  const ChildExit killed = child->Terminate();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(killed.signal, SIGKILL);
  EXPECT_TRUE(GoneWithin(grandchildren[0], absl::Seconds(5))) << "sleep outlived the kill";
}

TEST(ChildProcessTest, AChildIsOverWhenItEndsAndWhatItLeftInItsGroupIsKilled) {
  // The background sleep holds the stdout pipe; once the shell has ended it must not keep the
  // wait (a job's slot) going, nor live on.
  ExecOptions options = Shell("sleep 30 & echo $!");
  options.stdout_to = Output::Capture();
  std::unique_ptr<ChildProcess> child = Start(options);
  ASSERT_NE(child, nullptr);
  const absl::Time start = absl::Now();
  const ChildExit exit = WaitFor(*child);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_TRUE(exit.Succeeded());
  int sleep_pid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(child->out()), &sleep_pid))
      << child->out();
  EXPECT_TRUE(GoneWithin(sleep_pid, absl::Seconds(5))) << "the background sleep outlived its job";
}

TEST(ChildProcessTest, OutputHeldOpenOutsideTheGroupIsReadForABoundedTime) {
  // setsid takes the sleep out of the group, out of reach of the end's kill; the wait gives up
  // on its end of the pipe instead of waiting for it. The shell ends only once the sleep has
  // left the group (it has written its pid), or the kill would catch it still inside.
  char path[] = "/tmp/resque-child-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  ExecOptions options = Shell(
      absl::StrCat("f=", path, "; setsid sh -c 'echo $$ > '$f'; exec sleep 30' & i=0; ",
                   "while [ ! -s $f ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done; cat $f"));
  options.stdout_to = Output::Capture();
  std::unique_ptr<ChildProcess> child = Start(options);
  ASSERT_NE(child, nullptr);
  const absl::Time start = absl::Now();
  const ChildExit exit = WaitFor(*child);
  const absl::Duration took = absl::Now() - start;
  int sleep_pid = 0;
  const bool parsed = absl::SimpleAtoi(absl::StripAsciiWhitespace(child->out()), &sleep_pid);
  if (parsed && sleep_pid > 0) kill(sleep_pid, SIGKILL);
  unlink(path);
  EXPECT_TRUE(parsed) << child->out();
  EXPECT_TRUE(exit.Succeeded());
  EXPECT_GE(took, absl::Seconds(1));
  EXPECT_LT(took, absl::Seconds(5));
}

TEST(ChildProcessTest, ALiveCopyCutsLongLinesButTheCaptureKeepsThem) {
  char path[] = "/tmp/resque-child-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  // One line of 200000 bytes, in several reads, then a short one and a last without newline.
  ExecOptions options =
      Shell("head -c 200000 /dev/zero | tr '\\0' x; echo; echo short; printf end");
  options.stdout_to = Output::CaptureAndCopyTo(fd, 100);
  std::unique_ptr<ChildProcess> child = Start(options);
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(WaitFor(*child).Succeeded());
  close(fd);
  std::ifstream in(path);
  const std::string copied((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  unlink(path);
  EXPECT_EQ(copied, std::string(100, 'x') + "...\nshort\nend");
  EXPECT_EQ(child->out(), std::string(200000, 'x') + "\nshort\nend");
}

TEST(ChildProcessTest, ASignalToTheParentsGroupAsAChildStartsIsNotTheChilds) {
  // A worker blocks its control signals; a TERM sent to its process group (a terminal's ^C, a
  // supervisor) can reach a command forked that moment, before it has left the group. That TERM
  // was for the worker. In a process of their own: a signaller floods the group with TERM while
  // 200 commands start; none may die of it.
  absl::StatusOr<std::unique_ptr<ChildProcess>> worker = ChildProcess::Fork(
      [](int report) {
        sigset_t term;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        sigprocmask(SIG_BLOCK, &term, nullptr);
        const pid_t signaller = fork();
        if (signaller == 0) {
          const absl::Time end = absl::Now() + absl::Seconds(10);
          while (absl::Now() < end && getppid() != 1) {
            kill(0, SIGTERM);
            usleep(50);
          }
          _exit(0);
        }
        int killed = 0;
        for (int i = 0; i < 200; ++i) {
          absl::StatusOr<std::unique_ptr<ChildProcess>> command =
              ChildProcess::Exec(Shell("exit 0"));
          if (!command.ok()) return 2;
          absl::StatusOr<ChildExit> exit = (*command)->Wait(absl::Now() + absl::Seconds(10));
          if (exit.ok() && exit->signal == SIGTERM) ++killed;
        }
        kill(signaller, SIGKILL);
        waitpid(signaller, nullptr, 0);
        const std::string line = absl::StrCat(killed, "\n");
        (void)!write(report, line.data(), line.size());
        return 0;
      },
      {.reset_signals = false, .exec_children_join_group = false});
  ASSERT_TRUE(worker.ok()) << worker.status();
  absl::StatusOr<ChildExit> exit = (*worker)->Wait(absl::Now() + absl::Seconds(60));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->Succeeded()) << exit->Describe();
  EXPECT_EQ((*worker)->report(), "0\n") << "commands killed by a TERM meant for their parent";
}

TEST(ChildProcessTest, AWaitWhoseDeadlineHasPassedLooksOnceAndReturns) {
  std::unique_ptr<ChildProcess> child = Start(Shell("sleep 30"));
  ASSERT_NE(child, nullptr);
  const absl::Time start = absl::Now();
  EXPECT_TRUE(absl::IsDeadlineExceeded(child->Wait(absl::Now()).status()));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(ChildProcessTest, TheDestructorKillsAndReapsARunningChild) {
  pid_t pid = 0;
  {
    std::unique_ptr<ChildProcess> child = Start(Shell("sleep 30"));
    ASSERT_NE(child, nullptr);
    pid = child->pid();
  }
  EXPECT_NE(kill(pid, 0), 0) << "still there, or a zombie not reaped";
}

TEST(ChildProcessTest, LargeStdinAndStdoutAtOnceDoNotDeadlock) {
  std::string input;
  for (int i = 0; input.size() < (8u << 20); ++i) absl::StrAppend(&input, "line ", i, "\n");
  ExecOptions options;
  options.argv = {"cat"};
  options.stdin_data = input;
  options.stdout_to = Output::Capture();
  options.capture_limit = 16 << 20;
  std::unique_ptr<ChildProcess> child = Start(options);
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(WaitFor(*child).Succeeded());
  EXPECT_EQ(child->out().size(), input.size());
  EXPECT_TRUE(child->out() == input);
}

TEST(ChildProcessTest, AChildThatDoesNotReadItsStdinIsNoError) {
  ExecOptions options = Shell("exit 0");
  options.stdin_data = std::string(4 << 20, 'x');
  std::unique_ptr<ChildProcess> child = Start(options);
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(WaitFor(*child).Succeeded());  // and this process was not killed by SIGPIPE
}

TEST(ChildProcessTest, CaptureKeepsTheHeadAndTheTailAndSaysWhatWasCut) {
  std::unique_ptr<ChildProcess> child = Start(
      ShellCaptured("i=0; while [ $i -lt 20000 ]; do echo \"line $i\"; i=$((i+1)); done", 1000));
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(WaitFor(*child).Succeeded());
  const std::string& out = child->out();
  EXPECT_THAT(out, StartsWith("line 0\nline 1\n"));
  EXPECT_TRUE(absl::EndsWith(out, "line 19998\nline 19999\n")) << out;
  EXPECT_THAT(out, HasSubstr(" bytes not kept ...]\n"));
  EXPECT_LT(out.size(), 1100u);
  EXPECT_EQ(child->err(), "");
}

TEST(ChildProcessTest, OutputUnderTheLimitIsKeptWhole) {
  std::unique_ptr<ChildProcess> child = Start(ShellCaptured("printf out; printf err >&2", 3));
  ASSERT_NE(child, nullptr);
  EXPECT_TRUE(WaitFor(*child).Succeeded());
  EXPECT_EQ(child->out(), "out");
  EXPECT_EQ(child->err(), "err");
}

TEST(ChildProcessTest, EnvEntriesReplaceInheritedOnes) {
  setenv("RESQUE_CHILD_TEST", "inherited", 1);
  ExecOptions options = Shell("printf '%s/%s' \"$RESQUE_CHILD_TEST\" \"$RESQUE_CHILD_OTHER\"");
  options.env = {"RESQUE_CHILD_TEST=given", "RESQUE_CHILD_OTHER=also"};
  options.stdout_to = Output::Capture();
  std::unique_ptr<ChildProcess> child = Start(options);
  ASSERT_NE(child, nullptr);
  WaitFor(*child);
  EXPECT_EQ(child->out(), "given/also");

  options.env = {};
  options.inherit_environment = false;
  child = Start(options);
  ASSERT_NE(child, nullptr);
  WaitFor(*child);
  EXPECT_EQ(child->out(), "/");
  unsetenv("RESQUE_CHILD_TEST");
}

TEST(ChildProcessTest, RunsInTheGivenDirectory) {
  ExecOptions options;
  options.argv = {"pwd"};
  options.cwd = "/";
  options.stdout_to = Output::Capture();
  std::unique_ptr<ChildProcess> child = Start(options);
  ASSERT_NE(child, nullptr);
  WaitFor(*child);
  EXPECT_EQ(child->out(), "/\n");
}

TEST(ChildProcessTest, AProgramThatCannotStartIsAnErrorNotAnExitCode) {
  ExecOptions options;
  options.argv = {"resque-no-such-program"};
  EXPECT_TRUE(absl::IsNotFound(ChildProcess::Exec(options).status()));
  options.argv = {"/nonexistent/program"};
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Exec(options);
  EXPECT_TRUE(absl::IsInternal(child.status()));
  EXPECT_THAT(child.status().message(), HasSubstr("exec /nonexistent/program"));
  options.argv = {"true"};
  options.cwd = "/nonexistent";
  EXPECT_THAT(ChildProcess::Exec(options).status().message(), HasSubstr("chdir /nonexistent"));
  options.argv = {};
  EXPECT_TRUE(absl::IsInvalidArgument(ChildProcess::Exec(options).status()));
}

TEST(ChildProcessTest, AFunctionChildReportsAndEndsWithItsReturnValue) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Fork([](int report) {
    (void)!write(report, "done", 4);
    return 4;
  });
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(WaitFor(**child).exit_code, 4);
  EXPECT_EQ((*child)->report(), "done");
}

TEST(ChildProcessTest, AFunctionChildThatThrowsOrExitsNeverReturnsHere) {
  const pid_t me = getpid();
  absl::StatusOr<std::unique_ptr<ChildProcess>> thrower =
      ChildProcess::Fork([](int) -> int { throw std::runtime_error("job code"); });
  ASSERT_TRUE(thrower.ok());
  EXPECT_EQ(WaitFor(**thrower).exit_code, 70);
  absl::StatusOr<std::unique_ptr<ChildProcess>> exiter =
      ChildProcess::Fork([](int) -> int { std::exit(5); });
  ASSERT_TRUE(exiter.ok());
  EXPECT_EQ(WaitFor(**exiter).exit_code, 5);
  EXPECT_EQ(getpid(), me);
}

TEST(ChildProcessTest, AFunctionChildGetsDefaultSignalsUnlessToldToKeepThem) {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);
  auto raise_term = [](int) {
    raise(SIGTERM);
    return 0;
  };
  absl::StatusOr<std::unique_ptr<ChildProcess>> reset = ChildProcess::Fork(raise_term);
  ASSERT_TRUE(reset.ok());
  EXPECT_EQ(WaitFor(**reset).signal, SIGTERM);
  absl::StatusOr<std::unique_ptr<ChildProcess>> kept =
      ChildProcess::Fork(raise_term, {.reset_signals = false});
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(WaitFor(**kept).exit_code, 0);  // blocked, as in this process
  pthread_sigmask(SIG_UNBLOCK, &term, nullptr);
}

TEST(ChildProcessTest, KillingAFunctionChildEndsTheCommandsItStarted) {
  // A job's process running a command, as `--fork --exec` does: the command and what it started
  // are in the job process's group, which the kill ends whole.
  absl::StatusOr<std::unique_ptr<ChildProcess>> job = ChildProcess::Fork([](int report) {
    absl::StatusOr<std::unique_ptr<ChildProcess>> command =
        ChildProcess::Exec(Shell("sleep 30; true"));
    if (!command.ok()) return 1;
    const std::string pid = absl::StrCat((*command)->pid(), "\n");
    (void)!write(report, pid.data(), pid.size());
    (void)(*command)->Wait();
    return 0;
  });
  ASSERT_TRUE(job.ok()) << job.status();
  int shell = 0;
  std::vector<pid_t> sleeps;
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (sleeps.empty() && absl::Now() < end) {
    ASSERT_TRUE(
        absl::IsDeadlineExceeded((*job)->Wait(absl::Now() + absl::Milliseconds(5)).status()));
    if (shell == 0) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace((*job)->report()), &shell);
    }
    if (shell != 0) sleeps = ChildrenOf(shell);
  }
  ASSERT_EQ(sleeps.size(), 1u);
  EXPECT_EQ((*job)->Terminate().signal, SIGKILL);
  EXPECT_TRUE(GoneWithin(shell, absl::Seconds(5)));
  EXPECT_TRUE(GoneWithin(sleeps[0], absl::Seconds(5)));
}

TEST(ChildProcessTest, OutputCanGoToAFileAndBeCopiedLive) {
  char path[] = "/tmp/resque-child-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ExecOptions options = Shell("echo to-file; echo copied >&2");
  options.stdout_to = Output::To(fd);
  options.stderr_to = Output::CaptureAndCopyTo(fd);
  std::unique_ptr<ChildProcess> child = Start(options);
  ASSERT_NE(child, nullptr);
  WaitFor(*child);
  EXPECT_EQ(child->err(), "copied\n");
  close(fd);
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all, "to-file\ncopied\n");
  unlink(path);
}

}  // namespace
}  // namespace resque
