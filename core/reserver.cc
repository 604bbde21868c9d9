#include "core/reserver.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "core/recorder.h"
#include "core/status.h"
#include "core/status_macros.h"

namespace resque {
namespace {

// How long a slot that keeps finding jobs reuses what "*" stood for (a slot that finds none
// looks again at once): one round trip less per job, a new queue seen within this.
constexpr absl::Duration kQueueListTtl = absl::Seconds(1);

}  // namespace

absl::StatusOr<Backend::StarQueues> StarCache::Look(Backend& backend, absl::Time now,
                                                    absl::Duration max_age) {
  std::lock_guard lock(mu_);
  if (last_.has_value() && !last_->all && now - at_ < max_age) return *last_;
  absl::StatusOr<Backend::StarQueues> star = backend.QueuesForStar(kStarListsAllUpTo);
  if (star.ok()) {
    last_ = *star;
    at_ = now;
  }
  return star;
}

absl::StatusOr<Reservation> Reserver::Reserve(absl::Duration wait, bool allow_batch) {
  absl::StatusOr<Reservation> r = ReserveOnList(wait, allow_batch);
  paused_ = r.ok() && r->paused;
  if (!r.ok() || r->jobs.empty()) {
    tickets_.Return(1);
    // Nothing on this list, or an error: "*" is looked up again at the next reserve.
    queues_at_ = absl::InfinitePast();
  }
  return r;
}

absl::StatusOr<Reservation> Reserver::ReserveOnList(absl::Duration wait, bool allow_batch) {
  if (in_flight_unsure_) RESQUE_RETURN_IF_ERROR(HandBackOrphans());
  RESQUE_RETURN_IF_ERROR(ResolveQueues());
  Reservation r;
  if (queues_.empty()) {
    r.no_queues = true;
    return r;
  }
  if (queues_.size() <= kReserveWindow) {
    const std::vector<std::string> queues = UsableQueues();
    if (queues.empty()) {
      r.no_usable = true;
      return r;
    }
    return ReserveFrom(queues, wait, allow_batch);
  }
  // A long list: a window at a time, without waiting, from the first not found empty lately to
  // the end, then those before it (a job may have come to them since).
  bool any_usable = false;
  const size_t first = WindowStart();
  for (const auto& [from_index, to_index] :
       {std::pair{first, queues_.size()}, std::pair{size_t{0}, first}}) {
    for (size_t from = from_index; from < to_index;) {
      size_t next = 0;
      const std::vector<std::string> window = UsableWindow(from, to_index, &next);
      if (!window.empty()) {
        any_usable = true;
        RESQUE_ASSIGN_OR_RETURN(r, ReserveFrom(window, absl::ZeroDuration(), allow_batch));
        if (!r.jobs.empty() || r.paused) return r;
      }
      skip_ = from = next;
    }
  }
  // Every window came up empty: from the top at the next reserve.
  skip_ = 0;
  if (wait <= absl::ZeroDuration()) {
    r = Reservation{};
    r.no_usable = !any_usable && !AnyUsable();
    return r;
  }
  // A blocking reserve then waits on every queue, so that a job pushed to any of them is taken
  // at once.
  const std::vector<std::string> queues = UsableQueues();
  if (queues.empty()) {
    r.no_usable = true;
    return r;
  }
  return ReserveFrom(queues, wait, allow_batch);
}

absl::StatusOr<Reservation> Reserver::ReserveFrom(const std::vector<std::string>& queues,
                                                  absl::Duration wait, bool allow_batch) {
  Reservation r;
  in_flight_ = reliable_.load();
  // Every reserve honours the fleet-wide pause flag, in the same round trip.
  bool* const paused = &r.paused;
  if (allow_batch && in_flight_ && batch_size_ > 1) {
    const int extra = tickets_.TakeMore(batch_size_ - 1);
    absl::StatusOr<ReservedJobs> jobs = backend_.Reserve(
        {.queues = queues, .wait = wait, .owner = slot_id_, .max = 1 + extra, .paused = paused});
    const int got = jobs.ok() ? static_cast<int>(jobs->size()) : 0;
    tickets_.Return(extra + 1 - std::max(got, 1));  // the first ticket stays with the caller's
    if (r.paused) return r;
    if (jobs.ok()) NoteUsable(queues, got > 0 ? (*jobs)[0].queue : std::string());
    if (jobs.ok() && got > 0) {
      r.jobs.assign(std::make_move_iterator(jobs->begin()), std::make_move_iterator(jobs->end()));
      r.batch = true;
      return r;
    }
    if (!absl::IsFailedPrecondition(jobs.status())) {
      if (!jobs.ok()) {
        in_flight_unsure_ = IsTransient(jobs.status());
        return jobs.status();
      }
      return r;
    }
    // A queue key of the wrong type: one job at a time, below, finds it and goes around it.
    batch_size_ = 1;
  }
  absl::StatusOr<std::optional<ReservedJob>> job = ReserveOne(queues, wait, paused);
  if (in_flight_ && absl::IsUnimplemented(job.status())) {
    Log(LogLevel::kError, "this backend has no in-flight lists: reserving unreliably");
    reliable_.store(false);
    in_flight_ = false;
    job = ReserveOne(queues, wait, paused);
  }
  if (job.ok()) NoteUsable(queues, job->has_value() ? (*job)->queue : std::string());
  if (absl::IsFailedPrecondition(job.status())) job = ReserveAroundBrokenQueues(queues, paused);
  if (!job.ok()) {
    in_flight_unsure_ = in_flight_ && IsTransient(job.status());
    return job.status();
  }
  if (job->has_value()) {
    r.jobs.push_back(**std::move(job));
  } else if (!AnyUsable()) {
    r.no_usable = true;
  }
  return r;
}

bool Reserver::PrepareFolded(ReserveRequest& request) {
  if (in_flight_unsure_) return false;
  const bool reliable = reliable_.load();
  if (options_.max_batch > 1 && reliable && batch_size_ > 1) return false;
  if (!ResolveQueues().ok() || queues_.empty()) return false;
  folded_next_ = 0;
  if (queues_.size() <= kReserveWindow) {
    folded_queues_ = UsableQueues();
  } else {
    const size_t from = WindowStart();
    folded_queues_ = UsableWindow(from, queues_.size(), &folded_next_);
  }
  if (folded_queues_.empty() || !tickets_.Take(/*wait=*/false)) return false;
  in_flight_ = reliable;
  folded_paused_ = false;
  request = {.queues = folded_queues_,
             .wait = absl::ZeroDuration(),
             .owner = reliable ? std::string_view(slot_id_) : std::string_view(),
             .max = 1,
             .paused = &folded_paused_};
  return true;
}

Reservation Reserver::FoldedResult(absl::StatusOr<ReservedJobs> jobs) {
  Reservation r;
  if (jobs.ok() && !jobs->empty() && !folded_paused_) {
    NoteUsable(folded_queues_, jobs->front().queue);
    r.jobs.push_back(std::move(jobs->front()));
    return r;
  }
  tickets_.Return(1);
  if (jobs.ok() && !folded_paused_ && folded_next_ > 0 && folded_next_ < queues_.size()) {
    skip_ = folded_next_;  // a long list: the plain reserve goes on from the next window
    return r;
  }
  queues_at_ = absl::InfinitePast();  // as after a plain reserve that found nothing
  if (!jobs.ok() && in_flight_ && IsTransient(jobs.status())) in_flight_unsure_ = true;
  return r;
}

absl::StatusOr<std::optional<ReservedJob>> Reserver::ReserveOne(
    const std::vector<std::string>& queues, absl::Duration wait, bool* paused) {
  absl::StatusOr<ReservedJobs> jobs =
      backend_.Reserve({.queues = queues,
                        .wait = wait,
                        .owner = in_flight_ ? slot_id_ : std::string_view(),
                        .paused = paused});
  if (!jobs.ok()) return jobs.status();
  if (jobs->empty()) return std::nullopt;
  return std::move(jobs->front());
}

// One queue key of the wrong type (someone else's SET on it) fails a reserve over all the
// queues; the others must still be served. Tries them one by one, in priority order, without
// waiting, and skips from now on each that fails so.
absl::StatusOr<std::optional<ReservedJob>> Reserver::ReserveAroundBrokenQueues(
    const std::vector<std::string>& queues, bool* paused) {
  for (const std::string& queue : queues) {
    absl::StatusOr<std::optional<ReservedJob>> job =
        ReserveOne({queue}, absl::ZeroDuration(), paused);
    if (absl::IsFailedPrecondition(job.status())) {
      MarkUnusable(queue, job.status());
      continue;
    }
    if (job.ok()) NoteUsable({queue}, "");
    if (!job.ok() || job->has_value() || *paused) return job;
  }
  return std::nullopt;
}

std::vector<std::string> Reserver::UsableQueues() const {
  if (unusable_.empty()) return queues_;
  const absl::Time now = options_.timer->MonotonicNow();
  std::vector<std::string> usable;
  for (const std::string& q : queues_) {
    auto it = unusable_.find(q);
    if (it == unusable_.end() || it->second.retry_at <= now) usable.push_back(q);
  }
  return usable;
}

bool Reserver::AnyUsable() const {
  if (unusable_.empty()) return !queues_.empty();
  const absl::Time now = options_.timer->MonotonicNow();
  return std::any_of(queues_.begin(), queues_.end(), [&](const std::string& q) {
    auto it = unusable_.find(q);
    return it == unusable_.end() || it->second.retry_at <= now;
  });
}

std::vector<std::string> Reserver::UsableWindow(size_t from, size_t to, size_t* next) const {
  const absl::Time now = options_.timer->MonotonicNow();
  std::vector<std::string> window;
  size_t i = from;
  for (; i < to && window.size() < kReserveWindow; ++i) {
    auto it = unusable_.find(queues_[i]);
    if (it == unusable_.end() || it->second.retry_at <= now) window.push_back(queues_[i]);
  }
  *next = i;
  return window;
}

size_t Reserver::WindowStart() {
  const absl::Time now = options_.timer->MonotonicNow();
  if (now - skip_at_ >= kQueueListTtl || skip_ >= queues_.size()) {
    skip_ = 0;
    skip_at_ = now;
  }
  return skip_;
}

void Reserver::MarkUnusable(const std::string& queue, const absl::Status& error) {
  const absl::Time now = options_.timer->MonotonicNow();
  auto [it, fresh] = unusable_.try_emplace(queue);
  Unusable& u = it->second;
  u.error = std::string(error.message());
  u.retry_at = now + kUnusableRetry;
  if (!fresh && now - u.logged_at < kUnusableReminder) return;
  u.logged_at = now;
  Log(LogLevel::kError,
      absl::StrFormat("worker %s: queue \"%s\" is unusable (%s): skipping it, trying it again "
                      "every %s",
                      slot_id_, queue, u.error, absl::FormatDuration(kUnusableRetry)));
}

void Reserver::NoteUsable(const std::vector<std::string>& queues, std::string_view through) {
  if (unusable_.empty()) return;
  for (const std::string& q : queues) {
    if (unusable_.erase(q) > 0) {
      Log(LogLevel::kInfo, absl::StrFormat("worker %s: queue \"%s\" is usable again", slot_id_, q));
    }
    if (q == through) return;  // the reserve looked no further
  }
}

std::vector<std::pair<std::string, std::string>> Reserver::UnusableQueues() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& q : queues_) {
    if (auto it = unusable_.find(q); it != unusable_.end()) out.emplace_back(q, it->second.error);
  }
  return out;
}

absl::Status Reserver::HandBackOrphans() {
  absl::StatusOr<std::vector<ReservedJob>> held = backend_.InFlight(slot_id_);
  if (!held.ok()) return held.status();
  if (!held->empty()) {
    std::vector<UnreserveJob> orphans;
    orphans.reserve(held->size());
    for (ReservedJob& job : *held) orphans.push_back({.job = std::move(job), .job_id = {}});
    absl::StatusOr<int64_t> back = backend_.Unreserve({.owner = slot_id_, .jobs = orphans});
    if (!back.ok()) return back.status();
    Log(LogLevel::kError,
        absl::StrFormat("worker %s: %d job(s) reserved while the connection dropped are back on "
                        "their queues",
                        slot_id_, *back));
  }
  in_flight_unsure_ = false;
  return absl::OkStatus();
}

absl::StatusOr<bool> Reserver::AnyQueued() {
  RESQUE_RETURN_IF_ERROR(ResolveQueues());
  for (const std::string& queue : UsableQueues()) {
    RESQUE_ASSIGN_OR_RETURN(const int64_t n, backend_.Size(queue));
    if (n > 0) return true;
  }
  return false;
}

absl::Status Reserver::ResolveQueues() {
  const std::vector<std::string>& wanted = options_.queues;
  if (std::find(wanted.begin(), wanted.end(), "*") == wanted.end()) {
    if (queues_.empty()) queues_ = wanted;
    return absl::OkStatus();
  }
  const absl::Time now = options_.timer->MonotonicNow();
  if (now - queues_at_ < kQueueListTtl) return absl::OkStatus();
  // "*" stands for every known queue, sorted (or, past kStarListsAllUpTo, every one that held a
  // job at the last look); named queues around it keep their place.
  absl::StatusOr<Backend::StarQueues> star = options_.star != nullptr
                                                 ? options_.star->Look(backend_, now, kQueueListTtl)
                                                 : backend_.QueuesForStar(kStarListsAllUpTo);
  if (!star.ok()) return star.status();
  const std::vector<std::string>* const all = &star->queues;
  queues_.clear();
  skip_ = 0;
  skip_at_ = now;
  for (const std::string& q : wanted) {
    if (q != "*") {
      queues_.push_back(q);
      continue;
    }
    for (const std::string& name : *all) {
      if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) queues_.push_back(name);
    }
  }
  queues_at_ = now;
  return absl::OkStatus();
}

void Reserver::OneJobTook(absl::Duration elapsed) {
  // One job at a time until one is quick: then batches, if allowed, start to grow.
  if (options_.max_batch > 1 && elapsed <= kBatchBudget) batch_size_ = 2;
}

void Reserver::BatchTook(absl::Duration elapsed) {
  batch_size_ = elapsed <= kBatchBudget ? std::min(batch_size_ * 2, options_.max_batch) : 1;
}

absl::StatusOr<int64_t> Reserver::HandBack(absl::Span<const ReservedJob> jobs,
                                           absl::Span<const absl::StatusOr<Payload>> payloads,
                                           std::string_view what) {
  // They were marked running; they wait again. The status goes in the same step as the
  // job, and only for a job still in this slot's list: once back in its queue another worker may
  // finish it at once, and a "waiting" written after its "complete" would stay.
  std::vector<UnreserveJob> back_jobs;
  back_jobs.reserve(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    back_jobs.push_back({.job = jobs[i], .job_id = payloads[i].ok() ? payloads[i]->id : ""});
  }
  const std::string waiting = StatusUpdateJson(JobState::kWaiting, options_.clock->Now());
  // Retried while Redis is away, as a record is: left in flight they would wait for this worker
  // to stop (it keeps beating, so nobody else recovers them).
  absl::StatusOr<int64_t> back = RetryWhileUnreachable(
      state_, options_.log, slot_id_,
      [&] { return absl::StrFormat("handing %d %s back", jobs.size(), what); },
      [&] {
        // Reserved without an owner, they are only here: back whatever.
        // A job whose start went with a folded reserve made the slot busy with it.
        return backend_.Unreserve({.owner = in_flight_ ? std::string_view(slot_id_) : "",
                                   .jobs = back_jobs,
                                   .status_json = waiting,
                                   .idle_worker = slot_id_});
      });
  tickets_.Return(static_cast<int>(jobs.size()));
  if (!back.ok()) {
    // They stay in flight: this slot hands them back when it stops, or a recovery does if it
    // dies.
    Log(LogLevel::kError, absl::StrFormat("worker %s: handing %d %s back: %s", slot_id_,
                                          jobs.size(), what, back.status().message()));
    return back;
  }
  Log(LogLevel::kDebug,
      absl::StrFormat("worker %s: %d %s back on their queue", slot_id_, *back, what));
  return back;
}

}  // namespace resque
