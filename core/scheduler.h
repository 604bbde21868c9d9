// Scheduler: moves delayed jobs to their queues once they are due, as resque-scheduler and
// node-resque's Scheduler do, over any Backend and in their Redis layout, so that a fleet may mix
// our schedulers with theirs. At most one scheduler leads at a time (Backend::HoldSchedulerLock,
// both peers' locks); each move is one atomic step (Backend::MoveDue), so that even two leaders,
// or a leader killed mid-move, move every job exactly once.
//
//   resque::Scheduler scheduler(*backend, {.name = "host:1234"});
//   std::thread t([&] { (void)scheduler.Run(); });
//   ...
//   scheduler.Stop();  // from any thread; Run() releases the lock and returns
//   t.join();
#ifndef RESQUE_CORE_SCHEDULER_H_
#define RESQUE_CORE_SCHEDULER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/recurring.h"

namespace resque {

struct SchedulerOptions {
  // Who holds the leader lock: "<host>:<pid>" when empty (DefaultSchedulerName), as the peers
  // name themselves.
  std::string name = {};
  // The longest a scheduler sleeps between two looks at the schedule; it wakes sooner for a job
  // it knows is due sooner. Positive.
  absl::Duration poll_interval = absl::Seconds(1);
  // How long the leader lock lasts unless renewed (whole seconds): how long a fleet waits for a
  // new leader after one died. The peers' default is 180 s.
  absl::Duration lock_timeout = absl::Seconds(180);
  // The most jobs one atomic move takes (1 to kMaxBatch).
  int batch = 100;
  // Recurring schedules (core/recurring.h): an occurrence missed by more than this (no
  // scheduler ran then) is skipped, as resque-scheduler skips every missed one; those within it
  // are enqueued late, once. At least lock_timeout, so that a leader change loses none; nullopt:
  // the longer of 5 minutes and lock_timeout.
  std::optional<absl::Duration> catch_up = std::nullopt;
  Clock* clock = RealClock();
  // Where moves, lock changes and errors are logged; nowhere when empty.
  LogSink log = {};
};

// What one turn of the scheduler did.
struct SchedulerTurn {
  bool leader = false;  // it held the lock (else it moved nothing)
  int64_t moved = 0;
  int64_t failed = 0;  // delayed items that could not move: recorded as failures
  std::optional<int64_t> next_at = std::nullopt;  // the earliest second still delayed
  int64_t enqueued = 0;                           // occurrences of recurring schedules enqueued
  // The earliest next occurrence of a recurring schedule.
  std::optional<int64_t> next_occurrence = std::nullopt;
};

// "<host>:<pid>".
std::string DefaultSchedulerName();

// The failure record's parts for a delayed item that cannot move (MoveDueRequest's
// bad_item_*), dated `now`, naming `scheduler` as the worker.
void SetBadItemRecord(MoveDueRequest& request, absl::Time now, std::string_view scheduler);

class Scheduler {
 public:
  // `backend` must outlive the Scheduler.
  Scheduler(Backend& backend, SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Checks the options; InvalidArgument naming the bad one.
  static absl::Status CheckOptions(const SchedulerOptions& options);

  // One turn: takes or renews the leader lock, and while it holds it moves every job due by the
  // clock's now, batch by batch.
  absl::StatusOr<SchedulerTurn> RunOnce();

  // Turns until Stop(), sleeping between them (see poll_interval); an error is logged and the
  // turn tried again after poll_interval. Releases the lock before it returns.
  absl::Status Run();

  // Makes Run() return soon. Thread-safe; not async-signal-safe.
  void Stop();

  const std::string& name() const { return options_.name; }

 private:
  // Sleeps until `deadline` by the clock or Stop(); whether Stop() was called.
  bool SleepUntil(absl::Time deadline);
  void Log(LogLevel level, std::string_view message) const;
  // The leader's step for recurring schedules: each one's occurrences due by `now`, enqueued
  // once each (Backend::EnqueueOccurrence).
  absl::Status EnqueueRecurring(absl::Time now, SchedulerTurn& turn);
  // One schedule's part of it, `from` its last occurrence.
  absl::Status EnqueueDue(const ScheduleEntry& entry, const RecurringJob& job,
                          const Occurrences& when, absl::Time now, SchedulerTurn& turn);
  absl::Duration CatchUp() const;

  Backend& backend_;
  SchedulerOptions options_;
  bool leader_ = false;  // as of the last turn, for logging changes
  // Each schedule's config as last read, parsed (or why not, logged once per config).
  struct Known {
    std::string config;
    absl::StatusOr<RecurringJob> job;
    std::optional<Occurrences> when;
  };
  absl::flat_hash_map<std::string, Known> schedules_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
};

}  // namespace resque

#endif  // RESQUE_CORE_SCHEDULER_H_
