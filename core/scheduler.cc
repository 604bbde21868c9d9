#include "core/scheduler.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/absl_view.h"
#include "core/failure.h"
#include "core/payload.h"
#include "core/status_macros.h"

namespace resque {
namespace {

// The most batches one turn moves before it renews the lock and looks at the time again.
constexpr int kBatchesPerTurn = 1000;
// The most occurrences of one schedule a turn enqueues (an `every 1s` after a long catch-up).
constexpr int kMaxOccurrencesPerTurn = 1000;

}  // namespace

std::string DefaultSchedulerName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrFormat("%s:%d", host[0] != '\0' ? host : "localhost", getpid());
}

void SetBadItemRecord(MoveDueRequest& request, absl::Time now, std::string_view scheduler) {
  // The payload goes where the raw marker is, the reason into the empty "error" string.
  constexpr std::string_view kPayloadMark = "\x01P";
  constexpr std::string_view kError = "\"error\":";
  Failure f;
  f.failed_at = FormatFailedAt(now);
  f.payload = std::string(kPayloadMark);
  f.exception = "resque::InvalidDelayedItem";
  f.worker = std::string(scheduler);
  const std::string record = EncodeFailure(f);
  const size_t p = record.find(kPayloadMark);
  const size_t e = record.find(std::string(kError) + "\"\"", p);
  request.bad_item_prefix = record.substr(0, p);
  request.bad_item_middle =
      record.substr(p + kPayloadMark.size(), e + kError.size() - p - kPayloadMark.size());
  request.bad_item_suffix = record.substr(e + kError.size() + 2);
}

Scheduler::Scheduler(Backend& backend, SchedulerOptions options)
    : backend_(backend), options_(std::move(options)) {
  if (options_.name.empty()) options_.name = DefaultSchedulerName();
  if (options_.clock == nullptr) options_.clock = RealClock();
}

Scheduler::~Scheduler() = default;

absl::Status Scheduler::CheckOptions(const SchedulerOptions& options) {
  if (options.poll_interval <= absl::ZeroDuration() ||
      options.poll_interval == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrFormat("scheduler poll interval %s is not positive",
                                                      absl::FormatDuration(options.poll_interval)));
  }
  const int64_t lock_seconds = absl::ToInt64Seconds(options.lock_timeout);
  if (lock_seconds < 1 || absl::Seconds(lock_seconds) != options.lock_timeout) {
    return absl::InvalidArgumentError(
        absl::StrFormat("scheduler lock timeout %s is not a whole number of seconds >= 1",
                        absl::FormatDuration(options.lock_timeout)));
  }
  if (options.batch < 1 || options.batch > kMaxBatch) {
    return absl::InvalidArgumentError(
        absl::StrFormat("scheduler batch %d is out of range (1 to %d)", options.batch, kMaxBatch));
  }
  if (options.catch_up.has_value() &&
      (*options.catch_up < options.lock_timeout || *options.catch_up == absl::InfiniteDuration())) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "scheduler catch-up %s is shorter than the lock timeout %s (a leader change would skip "
        "occurrences)",
        absl::FormatDuration(*options.catch_up), absl::FormatDuration(options.lock_timeout)));
  }
  return absl::OkStatus();
}

void Scheduler::Log(LogLevel level, std::string_view message) const {
  if (options_.log) options_.log(level, message);
}

absl::StatusOr<SchedulerTurn> Scheduler::RunOnce() {
  RESQUE_RETURN_IF_ERROR(CheckOptions(options_));
  SchedulerTurn turn;
  Clock& clock = *options_.clock;
  RESQUE_ASSIGN_OR_RETURN(turn.leader,
                          backend_.HoldSchedulerLock(options_.name, options_.lock_timeout));
  if (turn.leader != leader_) {
    leader_ = turn.leader;
    Log(LogLevel::kInfo, turn.leader
                             ? absl::StrFormat("scheduler %s leads", options_.name)
                             : absl::StrFormat("scheduler %s is not the leader", options_.name));
  }
  if (!turn.leader) return turn;
  // The lock is renewed well before it lapses when a turn moves a long backlog.
  absl::Time renew_at = clock.MonotonicNow() + options_.lock_timeout / 3;
  for (int i = 0; i < kBatchesPerTurn; ++i) {
    if (clock.MonotonicNow() >= renew_at) {
      RESQUE_ASSIGN_OR_RETURN(bool held,
                              backend_.HoldSchedulerLock(options_.name, options_.lock_timeout));
      if (!held) {
        leader_ = false;
        Log(LogLevel::kWarning,
            absl::StrFormat("scheduler %s lost the leader lock mid-turn", options_.name));
        turn.leader = false;
        return turn;
      }
      renew_at = clock.MonotonicNow() + options_.lock_timeout / 3;
    }
    const absl::Time now = clock.Now();
    MoveDueRequest request{.now = absl::ToUnixSeconds(now), .max = options_.batch};
    SetBadItemRecord(request, now, options_.name);
    RESQUE_ASSIGN_OR_RETURN(MoveDueResult moved, backend_.MoveDue(request));
    turn.moved += moved.moved;
    turn.failed += moved.failed;
    turn.next_at = moved.next_at;
    if (moved.failed > 0) {
      Log(LogLevel::kWarning,
          absl::StrFormat("%d delayed items could not move to a queue: recorded as failed",
                          moved.failed));
    }
    if (moved.moved + moved.failed < options_.batch) break;
  }
  if (turn.moved > 0) {
    Log(LogLevel::kInfo, absl::StrFormat("moved %d due jobs to their queues", turn.moved));
  }
  RESQUE_RETURN_IF_ERROR(EnqueueRecurring(clock.Now(), turn));
  return turn;
}

absl::Duration Scheduler::CatchUp() const {
  return options_.catch_up.value_or(std::max(absl::Minutes(5), options_.lock_timeout));
}

absl::Status Scheduler::EnqueueRecurring(absl::Time now, SchedulerTurn& turn) {
  absl::StatusOr<std::vector<ScheduleEntry>> entries = backend_.Schedules();
  if (absl::IsUnimplemented(entries.status())) return absl::OkStatus();
  if (!entries.ok()) return entries.status();
  absl::flat_hash_map<std::string, Known> known;
  for (ScheduleEntry& e : *entries) {
    // Parsed once per config; a bad one is logged when first seen, then left alone.
    Known k;
    if (auto it = schedules_.find(e.name);
        it != schedules_.end() && it->second.config == e.config) {
      k = std::move(it->second);
    } else {
      k.config = e.config;
      k.job = ParseRecurring(e.name, e.config);
      if (k.job.ok()) {
        absl::StatusOr<Occurrences> when = Occurrences::Of(*k.job);
        if (when.ok()) k.when = *std::move(when);
      } else {
        Log(LogLevel::kError, absl::StrFormat("skipping %s", k.job.status().message()));
      }
    }
    if (k.when.has_value()) {
      // One schedule's error (its queue's key of the wrong type) leaves the others to run.
      if (absl::Status s = EnqueueDue(e, *k.job, *k.when, now, turn); !s.ok()) {
        Log(LogLevel::kError, absl::StrFormat("schedule %s: %s", e.name, s.message()));
      }
    }
    known.emplace(e.name, std::move(k));
  }
  schedules_ = std::move(known);
  return absl::OkStatus();
}

absl::Status Scheduler::EnqueueDue(const ScheduleEntry& e, const RecurringJob& job,
                                   const Occurrences& when, absl::Time now, SchedulerTurn& turn) {
  const int64_t now_s = absl::ToUnixSeconds(now);
  if (!e.last_occurrence.has_value()) {
    // Stored by a peer: occurrences count from now.
    RESQUE_RETURN_IF_ERROR(
        backend_.EnqueueOccurrence({.name = e.name, .at = now_s, .mark_only = true}).status());
    return absl::OkStatus();
  }
  absl::Time from = absl::FromUnixSeconds(*e.last_occurrence);
  const absl::Time oldest = now - CatchUp();
  if (std::optional<absl::Time> first = when.Next(from); first.has_value() && *first <= oldest) {
    const absl::Time skip_to = when.SkipTo(from, oldest);
    Log(LogLevel::kWarning,
        absl::StrFormat("schedule %s: skipping its occurrences from %s to %s (no scheduler ran; "
                        "catch-up is %s)",
                        e.name, FormatIsoTime(*first), FormatIsoTime(skip_to),
                        absl::FormatDuration(CatchUp())));
    // Recorded, so that the skip is said once and every scheduler counts from there.
    RESQUE_RETURN_IF_ERROR(
        backend_
            .EnqueueOccurrence(
                {.name = e.name, .at = absl::ToUnixSeconds(skip_to), .mark_only = true})
            .status());
    from = skip_to;
  }
  for (int i = 0; i < kMaxOccurrencesPerTurn; ++i) {
    std::optional<absl::Time> at = when.Next(from);
    if (!at.has_value() || *at > now) break;
    Payload payload;
    payload.class_name = job.class_name;
    payload.args = job.args;
    payload.id = NewJobId();
    payload.queue_time = absl::ToDoubleSeconds(now - absl::UnixEpoch());
    const std::string encoded = EncodePayload(payload);
    const std::string enqueued_at = FormatIsoTime(now);
    RESQUE_ASSIGN_OR_RETURN(bool done, backend_.EnqueueOccurrence({.name = e.name,
                                                                   .at = absl::ToUnixSeconds(*at),
                                                                   .queue = job.queue,
                                                                   .payload = encoded,
                                                                   .enqueued_at = enqueued_at}));
    if (done) {
      ++turn.enqueued;
      Log(LogLevel::kInfo,
          absl::StrFormat("schedule %s: enqueued %s %s on %s (due %s)", e.name, job.class_name,
                          payload.id, job.queue, FormatIsoTime(*at)));
    }
    from = *at;
  }
  if (std::optional<absl::Time> next = when.Next(from); next.has_value()) {
    const int64_t s = absl::ToUnixSeconds(*next);
    if (!turn.next_occurrence.has_value() || s < *turn.next_occurrence) turn.next_occurrence = s;
  }
  return absl::OkStatus();
}

bool Scheduler::SleepUntil(absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return options_.clock->WaitUntil(lock, cv_, deadline, [&] { return stopping_; });
}

absl::Status Scheduler::Run() {
  RESQUE_RETURN_IF_ERROR(CheckOptions(options_));
  Clock& clock = *options_.clock;
  for (;;) {  // until Stop()
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
    }
    absl::StatusOr<SchedulerTurn> turn = RunOnce();
    absl::Duration sleep = options_.poll_interval;
    if (!turn.ok()) {
      Log(LogLevel::kError, absl::StrFormat("scheduler turn failed: %s", turn.status().ToString()));
    } else if (turn->leader) {
      // Wake at the start of the next second that holds jobs or an occurrence, if sooner.
      std::optional<int64_t> next = turn->next_at;
      if (turn->next_occurrence.has_value() && (!next || *turn->next_occurrence < *next)) {
        next = turn->next_occurrence;
      }
      if (next.has_value()) {
        const absl::Duration until = absl::FromUnixSeconds(*next) - clock.Now();
        sleep = std::clamp(until, absl::ZeroDuration(), options_.poll_interval);
      }
      if (turn->moved >= options_.batch) sleep = absl::ZeroDuration();  // a backlog: go on
    }
    if (sleep > absl::ZeroDuration() && SleepUntil(clock.MonotonicNow() + sleep)) break;
  }
  if (leader_) {
    absl::Status released = backend_.ReleaseSchedulerLock(options_.name);
    if (!released.ok()) {
      Log(LogLevel::kWarning,
          absl::StrFormat("scheduler lock not released: %s", released.ToString()));
    }
    leader_ = false;
  }
  return absl::OkStatus();
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

}  // namespace resque
