// Reserver: how one slot takes jobs. It resolves "*" to the known queues (kept for a second on
// the worker's timer, looked up again at once after a reserve that found nothing), reserves in
// priority order, reliably into the slot's in-flight list unless the backend has none, skips a
// queue whose key is of the wrong type (trying it again every kUnusableRetry), grows batches
// while jobs are quick, and hands back the jobs a batch did not start or a lost reply left in
// flight. Used by the slot's thread only.
//
//   resque::Reserver reserver(backend, slot_id, options, tickets, state, reliable);
//   absl::StatusOr<resque::Reservation> r = reserver.Reserve(absl::Seconds(1), /*batch=*/true);
#ifndef RESQUE_CORE_RESERVER_H_
#define RESQUE_CORE_RESERVER_H_

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/backend.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/payload.h"
#include "core/run_state.h"
#include "core/tickets.h"

namespace resque {

// What a reserve took.
struct Reservation {
  std::vector<ReservedJob> jobs;  // empty: nothing found
  bool batch = false;             // a batch (Reserve with max > 1): record them in one step
  bool no_queues = false;         // "*" stood for no queue at all: nothing to reserve from
  bool no_usable = false;         // every queue is skipped as unusable (see Reserver)
  bool paused = false;            // the fleet-wide pause flag is set: nothing was taken
  bool started = false;           // its start is recorded already (FoldedStart)
};

// Up to this many known queues, "*" stands for every one of them; past it, for those that held
// jobs at the last look (Backend::QueuesForStar), so that a reserve's cost does not grow with
// the empty queues.
inline constexpr int64_t kStarListsAllUpTo = 100;

// A reserve asks the backend about this many queues at most: a longer list (thousands of busy
// queues under "*", or named) is taken a window at a time, in order, each window that comes up
// empty skipped for up to a second (kQueueListTtl), so that the cost of a reserve does not grow
// with the length of the list. Only when every window is empty does a blocking reserve wait on
// the whole list.
inline constexpr size_t kReserveWindow = 100;

// The last look at what "*" stands for, shared by the slots of a worker: past
// kStarListsAllUpTo queues a look costs the server time in proportion to every known queue, so
// one look a second serves every slot. Thread-safe.
class StarCache {
 public:
  // The last look if it listed the busy queues only and is younger than `max_age` by `now`;
  // else a new look on `backend`.
  absl::StatusOr<Backend::StarQueues> Look(Backend& backend, absl::Time now,
                                           absl::Duration max_age);

 private:
  std::mutex mu_;
  std::optional<Backend::StarQueues> last_;  // guarded by mu_
  absl::Time at_ = absl::InfinitePast();     // guarded by mu_
};

struct ReserverOptions {
  std::vector<std::string> queues = {"*"};  // WorkerOptions::queues
  int max_batch = 1;                        // WorkerOptions::batch
  Clock* clock = RealClock();               // dates the statuses of jobs handed back
  Clock* timer = RealClock();               // the "*" list's TTL
  LogSink log = nullptr;                    // must be callable
  StarCache* star = nullptr;  // shared by the worker's slots; null: each look is the slot's own
};

class Reserver {
 public:
  // Not owned: `backend`, `tickets` (the reserve holds one ticket per job it asks for), `state`
  // (an immediate stop ends the retries of a hand-back) and `reliable` (the worker's: cleared
  // when the backend has no in-flight lists).
  Reserver(Backend& backend, std::string slot_id, ReserverOptions options, Tickets& tickets,
           RunState& state, std::atomic<bool>& reliable)
      : backend_(backend),
        slot_id_(std::move(slot_id)),
        options_(std::move(options)),
        tickets_(tickets),
        state_(state),
        reliable_(reliable) {}

  // With one ticket held: reserves, waiting up to `wait`, one job or (`allow_batch`, once jobs
  // are quick) a batch, for which it takes the extra tickets it can. The tickets of jobs it did
  // not take go back, on errors too.
  absl::StatusOr<Reservation> Reserve(absl::Duration wait, bool allow_batch);

  // The next reserve, folded into the record of the job that just ran (Backend::
  // FinishAndReserve) so that a slot that keeps finding jobs pays one round trip per job: true,
  // with `request` filled (it borrows the reserver's storage until its next call) and one ticket
  // taken for it, when the next reserve would be one job without a wait; false (nothing taken)
  // when it would be a batch, when jobs a dropped connection may have left in flight are to be
  // handed back first, when there is no queue or no ticket, or when "*" cannot be looked up.
  bool PrepareFolded(ReserveRequest& request);
  // What the folded reserve came to (the inner result of FinishAndReserve, or its error): the
  // reservation to perform next. Empty (its ticket given back) when nothing came, or the reserve
  // failed: then the next reserve is a plain one, which deals with the cause (a queue of the
  // wrong type, the pause flag, a lost reply).
  Reservation FoldedResult(absl::StatusOr<ReservedJobs> jobs);

  // Whether the queue list is one made at an earlier reserve: finding nothing on it, the caller
  // may look again on a fresh one (a queue may have appeared since).
  bool listed_before() const { return queues_at_ != absl::InfinitePast(); }
  // Whether the last reserve found the fleet-wide pause flag set (and took nothing).
  bool paused() const { return paused_; }
  // Whether the jobs taken by the last reserve sit in the slot's in-flight list.
  bool in_flight() const { return in_flight_; }

  // While the last reserve found the fleet-wide pause flag set: whether it still is (one read of
  // the flag, no reserve), and whether any of the slot's queues holds a job (for --burst).
  absl::StatusOr<bool> FleetPaused() { return backend_.AllWorkersPaused(); }
  absl::StatusOr<bool> AnyQueued();

  // Batch growth: a quick single job starts batches; a quick batch doubles the next one (up to
  // max_batch), a slow one makes the next one a single job.
  void OneJobTook(absl::Duration elapsed);
  void BatchTook(absl::Duration elapsed);

  // Hands jobs that a batch did not start, or that a shutdown stopped, back to the head of their
  // queue (tracked ones waiting again), retrying while the backend is unreachable (until an
  // immediate stop), and gives back their tickets. Returns how many went back (the others
  // were no longer in flight); on an error they stay in flight, logged, for this slot's
  // unregistering or a recovery to hand back. `what` names them in the log ("unstarted job(s) of
  // a slow batch").
  absl::StatusOr<int64_t> HandBack(absl::Span<const ReservedJob> jobs,
                                   absl::Span<const absl::StatusOr<Payload>> payloads,
                                   std::string_view what);

  // A batch goes on while it has run for less than this; then its unstarted jobs go back.
  static constexpr absl::Duration kBatchBudget = absl::Milliseconds(10);

  // A queue the backend refuses to reserve from (FailedPrecondition: on Redis, its key holds
  // something else than a list) is skipped, and logged once; it is tried again this often,
  // logged again at most every kUnusableReminder while it stays so, and logged when it works
  // again.
  static constexpr absl::Duration kUnusableRetry = absl::Seconds(30);
  static constexpr absl::Duration kUnusableReminder = absl::Minutes(10);
  // How many queues the slot listens to now ("*" resolved at the last reserve).
  size_t queue_count() const { return queues_.size(); }
  // The slot's queues skipped as unusable now, each with the error that made it so.
  std::vector<std::pair<std::string, std::string>> UnusableQueues() const;

 private:
  absl::StatusOr<Reservation> ReserveOnList(absl::Duration wait, bool allow_batch);
  absl::StatusOr<Reservation> ReserveFrom(const std::vector<std::string>& queues,
                                          absl::Duration wait, bool allow_batch);
  absl::StatusOr<std::optional<ReservedJob>> ReserveOne(const std::vector<std::string>& queues,
                                                        absl::Duration wait, bool* paused);
  absl::StatusOr<std::optional<ReservedJob>> ReserveAroundBrokenQueues(
      const std::vector<std::string>& queues, bool* paused);
  // queues_ less the unusable queues not due for another try.
  std::vector<std::string> UsableQueues() const;
  bool AnyUsable() const;
  // The usable queues of queues_ from index `from` (up to `to`), at most kReserveWindow of them;
  // `*next` is the index after the last one looked at.
  std::vector<std::string> UsableWindow(size_t from, size_t to, size_t* next) const;
  // Where the next reserve over a long list starts: the first window not found empty within the
  // last kQueueListTtl (0 once that has passed, so that priority holds within it).
  size_t WindowStart();
  void MarkUnusable(const std::string& queue, const absl::Status& error);
  // A reserve over `queues` went without error, looking at each up to `through` (the queue it
  // took a job from; empty: all of them): those skipped before are usable again.
  void NoteUsable(const std::vector<std::string>& queues, std::string_view through);
  absl::Status HandBackOrphans();
  absl::Status ResolveQueues();
  void Log(LogLevel level, const std::string& message) const { options_.log(level, message); }

  Backend& backend_;
  const std::string slot_id_;
  const ReserverOptions options_;
  Tickets& tickets_;
  RunState& state_;
  std::atomic<bool>& reliable_;

  bool in_flight_ = false;
  bool paused_ = false;
  // The folded reserve's storage (PrepareFolded).
  std::vector<std::string> folded_queues_;
  bool folded_paused_ = false;
  int batch_size_ = 1;  // how many jobs the next batch reserve asks for
  // A reserve failed on the way back (the connection dropped): Redis may have moved jobs into
  // the slot's in-flight list whose reply never came. They are handed back before the next
  // reserve, since a recovery would not take them from a slot that is alive.
  bool in_flight_unsure_ = false;
  // What "*" stood for at the last look, and when (by the timer).
  std::vector<std::string> queues_;
  absl::Time queues_at_ = absl::InfinitePast();
  // Over a list longer than kReserveWindow: the index in queues_ before which every queue was
  // found empty since skip_at_ (by the timer), and where the folded reserve's window ended.
  size_t skip_ = 0;
  absl::Time skip_at_ = absl::InfinitePast();
  size_t folded_next_ = 0;
  struct Unusable {
    std::string error;
    absl::Time retry_at;   // by the timer
    absl::Time logged_at;  // by the timer
  };
  std::map<std::string, Unusable> unusable_;
};

}  // namespace resque

#endif  // RESQUE_CORE_RESERVER_H_
