// RedisBackend: the storage verbs on Redis, each one round trip (a pipeline, MULTI/EXEC or a Lua
// script) but RemoveJobs and InFlight (two), with the keys of keys.h and the values core hands in.
#include "backends/redis/redis_backend.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "backends/redis/connection.h"
#include "backends/redis/keys.h"
#include "backends/redis/reply.h"
#include "backends/redis/scripts.h"
#include "core/absl_view.h"
#include "core/backoff.h"
#include "core/job_filter.h"
#include "core/payload.h"
#include "core/status_macros.h"

namespace resque::redis {
namespace {

std::string Str(std::string_view s) { return std::string(s); }

// A declared dead-after as workers:liveness holds it: seconds, to the millisecond.
std::string FormatDeadAfter(absl::Duration d) {
  const int64_t ms = absl::ToInt64Milliseconds(d);
  if (ms % 1000 == 0) return absl::StrFormat("%d", ms / 1000);
  return absl::StrFormat("%d.%03d", ms / 1000, ms % 1000);
}

// The key a command is about, to name in its error: every command here has it first.
std::string_view KeyOf(const Command& command) {
  return command.size() > 1 ? std::string_view(command[1]) : std::string_view();
}

// Redis takes BLPOP's timeout in seconds, fractions allowed (Redis >= 6); 0 would mean forever.
std::string BlockSeconds(absl::Duration wait) {
  if (wait == absl::InfiniteDuration()) return "0";
  const int64_t ms = std::max<int64_t>(absl::ToInt64Milliseconds(wait), 1);
  return absl::StrFormat("%d.%03d", ms / 1000, ms % 1000);
}

class RedisBackend : public Backend {
 public:
  explicit RedisBackend(const RedisOptions& options)
      : keys_(options.ns),
        failures_(options.failures),
        timer_(options.timer != nullptr ? options.timer : RealClock()),
        wait_replicas_(options.wait_replicas),
        wait_timeout_(options.wait_timeout),
        pool_(std::make_shared<ConnectionPool>(options, ScriptSources())) {}

  // A backend over one session of `parent`'s pool (ConnectionPool::Session): every command goes
  // over that session's connection, so a StartJob's unawaited writes are owned by the session,
  // not parked by thread id. For one caller at a time (a worker slot), which may move between
  // threads. It shares the pool (and keeps it alive) with `parent`.
  RedisBackend(const RedisBackend& parent, ConnectionPool::Session session)
      : keys_(parent.keys_),
        failures_(parent.failures_),
        timer_(parent.timer_),
        wait_replicas_(parent.wait_replicas_),
        wait_timeout_(parent.wait_timeout_),
        pool_(parent.pool_),
        session_(std::move(session)) {}

  absl::Status Ping() { return pool_->Ping(); }
  int64_t round_trips() const { return pool_->round_trips(); }

 private:
  void DoCapWaits(absl::Duration cap) override { pool_->CapWaits(cap); }
  bool DoSupportsRetry() const override { return true; }

  // A backend of its own session (see above), for a worker slot.
  std::unique_ptr<Backend> DoOpenSession() override {
    return std::make_unique<RedisBackend>(*this, pool_->OpenSession());
  }

  // ---- Queues ----

  absl::Status DoPush(std::string_view queue,
                      absl::Span<const std::string_view> payloads) override {
    Command rpush = {"RPUSH", keys_.Queue(queue)};
    rpush.insert(rpush.end(), payloads.begin(), payloads.end());
    return DurablePipeline({{"SADD", keys_.Queues(), Str(queue)}, std::move(rpush)}, "the enqueue");
  }

  absl::StatusOr<size_t> DoReserve(const ReserveRequest& request,
                                   absl::Span<ReservedJob> out) override {
    absl::StatusOr<std::optional<ReservedJob>> one;
    bool* const paused = request.paused;
    if (request.owner.empty()) {
      one = ReserveUnowned(request.queues, request.wait, paused);
    } else if (request.max == 1) {
      one = ReserveInFlightOne(request.queues, request.wait, request.owner, paused);
    } else {
      absl::StatusOr<std::vector<ReservedJob>> jobs =
          ReserveManyNow(request.queues, request.owner, request.max, paused);
      if (!jobs.ok()) return jobs.status();
      std::move(jobs->begin(), jobs->end(), out.begin());
      if (!jobs->empty() || request.wait <= absl::ZeroDuration() ||
          (paused != nullptr && *paused)) {
        return jobs->size();
      }
      // Nothing now: wait for one job the way a single reserve does.
      one = ReserveInFlightOne(request.queues, request.wait, request.owner, paused);
    }
    if (!one.ok()) return one.status();
    if (!one->has_value()) return 0;
    out[0] = **std::move(one);
    return 1;
  }

  absl::StatusOr<std::optional<ReservedJob>> ReserveUnowned(absl::Span<const std::string> queues,
                                                            absl::Duration wait, bool* paused) {
    std::vector<std::string> keys;
    keys.reserve(queues.size());
    for (const std::string& q : queues) keys.push_back(keys_.Queue(q));
    if (wait == absl::ZeroDuration()) return ReserveNow(queues, std::move(keys), paused);
    return ReserveBlocking(queues, std::move(keys), wait, paused);
  }

  absl::StatusOr<int64_t> DoSize(std::string_view queue) override {
    return RunInteger({"LLEN", keys_.Queue(queue)});
  }

  absl::StatusOr<std::vector<std::string>> DoPeek(std::string_view queue, int64_t start,
                                                  int64_t count) override {
    return Range(keys_.Queue(queue), start, count);
  }

  absl::StatusOr<std::vector<std::string>> DoQueues() override {
    return SortedMembers(keys_.Queues());
  }

  absl::StatusOr<StarQueues> DoQueuesForStar(int64_t all_up_to) override {
    RESQUE_ASSIGN_OR_RETURN(Reply r, RunScript(StarQueuesCall(keys_, all_up_to)));
    const redisReply& reply = *r;
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 2 ||
        reply.element[0]->type != REDIS_REPLY_INTEGER) {
      return Unexpected(reply, "the star queues script");
    }
    StarQueues out;
    out.all = reply.element[0]->integer == 1;
    RESQUE_ASSIGN_OR_RETURN(out.queues, StringsOf(*reply.element[1], "the star queues script"));
    std::sort(out.queues.begin(), out.queues.end());
    return out;
  }

  absl::Status DoRemoveQueue(std::string_view queue) override {
    return Transaction({{"SREM", keys_.Queues(), Str(queue)}, {"DEL", keys_.Queue(queue)}})
        .status();
  }

  // Two round trips however many match: read the queue, then LREM each match by value (one
  // pipeline). Removing by value, not by index, keeps pushes and pops made in between.
  absl::StatusOr<int64_t> DoRemoveJobs(std::string_view queue, const JobMatcher& matcher) override {
    const std::string key = keys_.Queue(queue);
    absl::StatusOr<Reply> items = RunOne({"LRANGE", key, "0", "-1"});
    if (!items.ok()) return items.status();
    std::vector<Command> removals;
    const redisReply& list = **items;
    for (size_t i = 0; i < list.elements; ++i) {
      const std::string_view item(list.element[i]->str, list.element[i]->len);
      if (matcher.Matches(item)) removals.push_back({"LREM", key, "1", std::string(item)});
    }
    return SumOfIntegers(std::move(removals));
  }

  // ---- Statuses ----

  absl::StatusOr<std::optional<std::string>> DoGetStatus(std::string_view id) override {
    return RunOptionalString({"GET", keys_.Status(id)});
  }

  absl::Status DoSetStatus(std::string_view id, std::string_view status_json, absl::Duration ttl,
                           bool only_if_exists) override {
    // Without PX, SET also drops an earlier TTL: "no TTL" means the status never expires.
    Command set = {"SET", keys_.Status(id), Str(status_json)};
    if (ttl != absl::InfiniteDuration()) {
      set.push_back("PX");
      set.push_back(TtlMillis(ttl));
    }
    if (only_if_exists) set.push_back("XX");
    return Pipeline({std::move(set)}).status();
  }

  // ---- Workers ----

  absl::Status DoRegisterWorker(std::string_view worker_id, std::string_view started,
                                const std::optional<WorkerLiveness>& liveness) override {
    std::vector<Command> commands = {{"SADD", keys_.Workers(), Str(worker_id)},
                                     {"SET", keys_.WorkerStarted(worker_id), Str(started)},
                                     {"SREM", keys_.PausedWorkers(), Str(worker_id)}};
    if (liveness.has_value()) {
      commands.push_back(
          {"HSET", keys_.Liveness(), Str(worker_id), FormatDeadAfter(liveness->dead_after)});
      if (liveness->in_flight) commands.push_back({"SADD", keys_.InFlightOwners(), Str(worker_id)});
    }
    return Transaction(std::move(commands)).status();
  }

  absl::Status DoUnregisterWorker(std::string_view worker_id, const WorkerStats& stats) override {
    return Transaction({{"SREM", keys_.Workers(), Str(worker_id)},
                        {"DEL", keys_.Worker(worker_id), keys_.WorkerStarted(worker_id),
                         keys_.Stat(stats.processed), keys_.Stat(stats.failed)},
                        {"HDEL", keys_.Heartbeats(), Str(worker_id)},
                        {"HDEL", keys_.Liveness(), Str(worker_id)},
                        {"SREM", keys_.PausedWorkers(), Str(worker_id)}})
        .status();
  }

  absl::StatusOr<std::vector<std::string>> DoWorkers() override {
    return SortedMembers(keys_.Workers());
  }

  absl::StatusOr<std::optional<std::string>> DoWorkerJob(std::string_view worker_id) override {
    return RunOptionalString({"GET", keys_.Worker(worker_id)});
  }

  absl::StatusOr<std::optional<std::string>> DoWorkerStarted(std::string_view worker_id) override {
    return RunOptionalString({"GET", keys_.WorkerStarted(worker_id)});
  }

  // Two round trips however many queues: the set, then every LLEN (and LINDEX 0) in one
  // pipeline. A key of another type (a peer's mistake) marks its queue, not the whole answer.
  absl::StatusOr<std::vector<QueueSummary>> DoQueueSummaries(QueueParts parts) override {
    absl::StatusOr<std::vector<std::string>> names = SortedMembers(keys_.Queues());
    if (!names.ok()) return names.status();
    std::vector<QueueSummary> out;
    if (names->empty()) return out;
    const size_t per_queue = parts == QueueParts::kSizesOnly ? 1 : 2;
    std::vector<Command> commands;
    commands.reserve(names->size() * per_queue);
    for (const std::string& name : *names) {
      commands.push_back({"LLEN", keys_.Queue(name)});
      if (per_queue == 2) commands.push_back({"LINDEX", keys_.Queue(name), "0"});
    }
    absl::StatusOr<Replies> replies = Run(commands);
    if (!replies.ok()) return replies.status();
    out.reserve(names->size());
    for (size_t i = 0; i < names->size(); ++i) {
      QueueSummary q{.name = std::move((*names)[i])};
      const std::string& key = commands[per_queue * i][1];
      const redisReply& size = *(*replies)[per_queue * i];
      const redisReply* head = per_queue == 2 ? (*replies)[2 * i + 1].get() : nullptr;
      absl::Status bad = ReplyStatus(size, key);
      if (bad.ok() && head != nullptr) bad = ReplyStatus(*head, key);
      if (!bad.ok()) {
        if (!absl::IsFailedPrecondition(bad)) return bad;
        q.error = std::string(bad.message());
      } else {
        absl::StatusOr<int64_t> n = IntegerOf(size, "LLEN");
        if (!n.ok()) return n.status();
        q.size = *n;
        if (head != nullptr) {
          absl::StatusOr<std::optional<std::string>> h = OptionalStringOf(*head, "LINDEX");
          if (!h.ok()) return h.status();
          q.head = std::move(*h);
        }
      }
      out.push_back(std::move(q));
    }
    return out;
  }

  // Two round trips however many workers: the set, then each one's four keys in one pipeline.
  // A counter that is not an integer (a peer's mistake) reads as 0.
  absl::StatusOr<std::vector<WorkerSummary>> DoWorkerSummaries() override {
    absl::StatusOr<std::vector<std::string>> ids = SortedMembers(keys_.Workers());
    if (!ids.ok()) return ids.status();
    std::vector<WorkerSummary> out;
    if (ids->empty()) return out;
    std::vector<Command> commands;
    commands.reserve(ids->size() * 4);
    for (const std::string& id : *ids) {
      commands.push_back({"GET", keys_.WorkerStarted(id)});
      commands.push_back({"GET", keys_.Worker(id)});
      commands.push_back({"GET", keys_.Stat("processed:" + id)});
      commands.push_back({"GET", keys_.Stat("failed:" + id)});
    }
    absl::StatusOr<Replies> replies = Run(commands);
    if (!replies.ok()) return replies.status();
    const auto text = [&](size_t i) -> std::optional<std::string> {
      const redisReply& r = *(*replies)[i];
      if (r.type != REDIS_REPLY_STRING) return std::nullopt;  // nil, or a key of another type
      return std::string(r.str, r.len);
    };
    const auto count = [&](size_t i) {
      int64_t n = 0;
      const std::optional<std::string> v = text(i);
      return v.has_value() && absl::SimpleAtoi(*v, &n) ? n : 0;
    };
    out.reserve(ids->size());
    for (size_t i = 0; i < ids->size(); ++i) {
      out.push_back({.id = std::move((*ids)[i]),
                     .started = text(4 * i),
                     .job = text(4 * i + 1),
                     .processed = count(4 * i + 2),
                     .failed = count(4 * i + 3)});
    }
    return out;
  }

  absl::Status DoStartJob(const JobStart& start) override {
    // SET replaces a value of any type, so none of these can fail on what the keys hold. On a
    // session they go without waiting for the reply: the job is performed whatever it says, and
    // the session's next command (the slot's Finish) is applied after them. Without a session
    // there is no owner for a reply left unread, so the call waits for it.
    std::vector<Command> commands = {{"SET", keys_.Worker(start.worker_id), start.working_json}};
    if (!start.job_id.empty()) {
      commands.push_back({"SET", keys_.Status(start.job_id), start.status_json, "XX"});
    }
    for (const std::string& id : start.other_job_ids) {
      if (!id.empty()) commands.push_back({"SET", keys_.Status(id), start.status_json, "XX"});
    }
    return Send(commands);
  }

  // ---- Reliable reserve and liveness ----

  absl::StatusOr<std::optional<ReservedJob>> ReserveInFlightOne(
      absl::Span<const std::string> queues, absl::Duration wait, std::string_view owner,
      bool* paused) {
    if (wait > absl::ZeroDuration() && queues.size() == 1) {
      return ReserveInFlightBlocking(queues[0], owner, wait, paused);
    }
    // Several queues: Redis has no blocking move from several lists, and BLPOP then a push would
    // lose the job if the worker died in between. So the reserve script (atomic, in priority
    // order) is tried again at growing intervals until the wait is over.
    Clock& timer = *timer_;
    const absl::Time deadline = timer.MonotonicNow() + wait;
    Backoff pause(absl::Milliseconds(5), kMaxReservePollPause, [&](absl::Duration d) {
      timer.SleepFor(std::min(d, deadline - timer.MonotonicNow()));
      return true;
    });
    for (;;) {
      absl::StatusOr<std::optional<ReservedJob>> job = ReserveInFlightNow(queues, owner, paused);
      if (!job.ok() || job->has_value() || (paused != nullptr && *paused)) return job;
      // A stopping worker (CapWaits) looks no more.
      if (timer.MonotonicNow() >= deadline || pool_->capped()) return std::nullopt;
      pause.Wait();
    }
  }

  // With wait_replicas, a finish the replicas do not acknowledge in time still succeeds: it is
  // applied on the master, and losing it in a failover can only run its job again (its
  // reservation comes back), never lose it. Failing it would have the worker send it again.
  absl::Status DoFinish(const FinishWrite& write) override {
    return RunScript(FinishManyCall(keys_, write, failures_), Durability::kWaitBestEffort).status();
  }

  // One script, one round trip: finish_many.lua's step, then the reserve script's.
  absl::StatusOr<absl::StatusOr<size_t>> DoFinishAndReserve(const FinishWrite& write,
                                                            const ReserveRequest& next,
                                                            absl::Span<ReservedJob> out) override {
    using Reserved = absl::StatusOr<size_t>;
    const bool owned = !next.owner.empty();
    bool* const paused = next.paused;
    std::vector<std::string> queue_keys;
    if (!owned) {
      queue_keys.reserve(next.queues.size());
      for (const std::string& q : next.queues) queue_keys.push_back(keys_.Queue(q));
    }
    const ScriptCall reserve =
        owned
            ? ReserveManyCall(keys_, next.queues, next.owner, next.max, paused != nullptr)
            : ReserveCall(std::move(queue_keys), paused != nullptr ? keys_.PauseAllWorkers() : "");
    absl::StatusOr<Reply> r = RunScript(
        FinishReserveCall(keys_, FinishManyCall(keys_, write, failures_), reserve, next.start),
        Durability::kWaitBestEffort);
    if (!r.ok()) return r.status();
    const redisReply& reply = **r;
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3 ||
        (reply.element[2]->type != REDIS_REPLY_STRING &&
         reply.element[2]->type != REDIS_REPLY_INTEGER)) {
      return Unexpected(reply, "the finish and reserve script");
    }
    if (reply.element[2]->type == REDIS_REPLY_STRING) {
      return Reserved(ScriptError(ReplyText(*reply.element[2])));
    }
    if (next.start != nullptr) next.start->started = reply.element[2]->integer == 1;
    const redisReply& got = *reply.element[1];
    if (PausedReply(got, paused)) return Reserved(0);
    if (owned) {
      absl::StatusOr<std::vector<ReservedJob>> jobs = ReservationsOf(got, next.queues);
      if (!jobs.ok()) return Reserved(jobs.status());
      if (jobs->size() > out.size()) return Unexpected(got, "the finish and reserve script");
      std::move(jobs->begin(), jobs->end(), out.begin());
      return Reserved(jobs->size());
    }
    absl::StatusOr<std::optional<ReservedJob>> job = ReservationOf(got, next.queues);
    if (!job.ok()) return Reserved(job.status());
    if (!job->has_value()) return Reserved(0);
    out[0] = **std::move(job);
    return Reserved(1);
  }

  absl::StatusOr<int64_t> DoUnreserve(const UnreserveRequest& request) override {
    absl::StatusOr<Reply> r = RunScript(UnreserveCall(keys_, request));
    if (!r.ok()) return r.status();
    return IntegerOf(**r, "the unreserve script");
  }

  absl::StatusOr<std::vector<ReservedJob>> DoInFlight(std::string_view owner) override {
    absl::StatusOr<std::vector<std::string>> queues = SortedMembers(keys_.InFlightQueues(owner));
    if (!queues.ok()) return queues.status();
    std::vector<ReservedJob> out;
    if (queues->empty()) return out;
    std::vector<Command> ranges;
    for (const std::string& q : *queues)
      ranges.push_back({"LRANGE", keys_.InFlight(owner, q), "0", "-1"});
    absl::StatusOr<Replies> r = Pipeline(std::move(ranges));
    if (!r.ok()) return r.status();
    for (size_t i = 0; i < queues->size(); ++i) {
      absl::StatusOr<std::vector<std::string>> payloads = StringsOf(*(*r)[i], "LRANGE");
      if (!payloads.ok()) return payloads.status();
      for (std::string& p : *payloads) out.push_back({(*queues)[i], std::move(p)});
    }
    return out;
  }

  absl::Status DoHeartbeat(absl::Span<const std::string> worker_ids,
                           std::string_view beat) override {
    Command hset = {"HSET", keys_.Heartbeats()};
    for (const std::string& id : worker_ids) {
      hset.push_back(id);
      hset.push_back(Str(beat));
    }
    return Pipeline({std::move(hset)}).status();
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DoHeartbeats() override {
    absl::StatusOr<Reply> r = RunOne({"HGETALL", keys_.Heartbeats()});
    if (!r.ok()) return r.status();
    absl::StatusOr<std::vector<std::string>> flat = StringsOf(**r, "HGETALL");
    if (!flat.ok()) return flat.status();
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t i = 0; i + 1 < flat->size(); i += 2) {
      out.emplace_back(std::move((*flat)[i]), std::move((*flat)[i + 1]));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  absl::StatusOr<std::optional<RecoverResult>> DoRecoverWorker(const RecoverRequest& request,
                                                               const WorkerStats& stats) override {
    absl::StatusOr<Reply> r = RunScript(RecoverCall(keys_, request, stats, failures_));
    if (!r.ok()) return r.status();
    const redisReply& reply = **r;
    if (reply.type == REDIS_REPLY_NIL) return std::nullopt;
    RecoverResult result;
    int64_t* fields[] = {&result.handed_back, &result.dirty_exits, &result.already_failed,
                         &result.poisoned, &result.recoveries};
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements != std::size(fields)) {
      return Unexpected(reply, "the recover script");
    }
    for (size_t i = 0; i < std::size(fields); ++i) {
      RESQUE_ASSIGN_OR_RETURN(*fields[i], IntegerOf(*reply.element[i], "the recover script"));
    }
    return std::optional<RecoverResult>(result);
  }

  // One round trip: TIME, every heartbeat, every declaration, the registered workers and the
  // in-flight owners.
  absl::StatusOr<LivenessView> DoReadLiveness() override {
    absl::StatusOr<Replies> r = Pipeline({{"TIME"},
                                          {"HGETALL", keys_.Heartbeats()},
                                          {"HGETALL", keys_.Liveness()},
                                          {"SMEMBERS", keys_.Workers()},
                                          {"SMEMBERS", keys_.InFlightOwners()}});
    if (!r.ok()) return r.status();
    LivenessView view;
    RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> time, StringsOf(*(*r)[0], "TIME"));
    int64_t seconds = 0;
    int64_t micros = 0;
    if (time.size() != 2 || !absl::SimpleAtoi(time[0], &seconds) ||
        !absl::SimpleAtoi(time[1], &micros)) {
      return Unexpected(*(*r)[0], "TIME");
    }
    view.server_time = absl::FromUnixSeconds(seconds) + absl::Microseconds(micros);
    RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> beats, StringsOf(*(*r)[1], "HGETALL"));
    RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> declared, StringsOf(*(*r)[2], "HGETALL"));
    RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> workers, StringsOf(*(*r)[3], "SMEMBERS"));
    RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> owners, StringsOf(*(*r)[4], "SMEMBERS"));
    std::map<std::string, absl::Duration> rules;
    for (size_t i = 0; i + 1 < declared.size(); i += 2) {
      double secs = 0;
      // A declaration that does not read as seconds is no declaration: a peer's rule applies.
      if (absl::SimpleAtod(declared[i + 1], &secs) && secs > 0) {
        rules[declared[i]] = absl::Seconds(secs);
      }
    }
    std::set<std::string> present(workers.begin(), workers.end());
    for (size_t i = 0; i + 1 < beats.size(); i += 2) {
      WorkerBeat b{.worker_id = std::move(beats[i]), .beat = std::move(beats[i + 1])};
      if (auto it = rules.find(b.worker_id); it != rules.end()) b.dead_after = it->second;
      present.insert(b.worker_id);
      view.beats.push_back(std::move(b));
    }
    std::sort(view.beats.begin(), view.beats.end(),
              [](const WorkerBeat& a, const WorkerBeat& b) { return a.worker_id < b.worker_id; });
    std::set<std::string> orphans;
    for (std::string& owner : owners) {
      if (present.count(owner) == 0) orphans.insert(std::move(owner));
    }
    for (size_t i = 0; i < declared.size(); i += 2) {
      if (present.count(declared[i]) == 0) orphans.insert(declared[i]);
    }
    view.orphans.assign(orphans.begin(), orphans.end());
    std::sort(view.orphans.begin(), view.orphans.end());
    return view;
  }

  // ---- Stats ----

  absl::StatusOr<std::optional<int64_t>> DoIncrementStat(std::string_view name,
                                                         int64_t by) override {
    const std::string key = keys_.Stat(name);
    absl::StatusOr<Replies> r = Run({{"INCRBY", key, Int(by)}});
    if (!r.ok()) return r.status();
    const redisReply& reply = *(*r)[0];
    // INCRBY refuses a sum past 64 bits, changing nothing: "ERR increment or decrement would
    // overflow".
    if (reply.type == REDIS_REPLY_ERROR &&
        absl::StrContains(absl::string_view(reply.str, reply.len), "would overflow")) {
      return std::nullopt;
    }
    RESQUE_RETURN_IF_ERROR(ReplyStatus(reply, key));
    absl::StatusOr<int64_t> value = IntegerOf(reply, "INCRBY");
    if (!value.ok()) return value.status();
    return std::optional<int64_t>(*value);
  }

  absl::StatusOr<int64_t> DoGetStat(std::string_view name) override {
    const std::string key = keys_.Stat(name);
    absl::StatusOr<std::optional<std::string>> v = RunOptionalString({"GET", key});
    if (!v.ok()) return v.status();
    if (!v->has_value()) return 0;
    int64_t n = 0;
    if (!absl::SimpleAtoi(**v, &n)) {
      return absl::FailedPreconditionError(
          absl::StrFormat("redis key \"%s\" does not hold an integer", key));
    }
    return n;
  }

  absl::Status DoClearStat(std::string_view name) override {
    return Pipeline({{"DEL", keys_.Stat(name)}}).status();
  }

  // ---- Failures ----
  //
  // Core hands in `queue` "" with one list; in the per-queue layout, a queue's list, or ""
  // (count, clear) for every list named in failed_queues.

  FailureLayout DoFailureLayout() override { return failures_; }

  std::string FailedKey(std::string_view queue) const {
    return queue.empty() ? keys_.Failed() : keys_.FailedQueue(queue);
  }

  absl::Status DoPushFailure(std::string_view queue, std::string_view failure_json) override {
    if (queue.empty()) return Pipeline({{"RPUSH", keys_.Failed(), Str(failure_json)}}).status();
    // In one transaction, so that a clear of every list never sees the name without the record.
    return Transaction({{"SADD", keys_.FailedQueues(), Keys::FailedQueueName(queue)},
                        {"RPUSH", keys_.FailedQueue(queue), Str(failure_json)}})
        .status();
  }

  absl::StatusOr<int64_t> DoFailureCount(std::string_view queue) override {
    if (failures_ == FailureLayout::kOneList || !queue.empty()) {
      return RunInteger({"LLEN", FailedKey(queue)});
    }
    absl::StatusOr<std::vector<std::string>> queues = DoFailureQueues();
    if (!queues.ok()) return queues.status();
    std::vector<Command> lengths;
    for (const std::string& q : *queues) lengths.push_back({"LLEN", keys_.FailedQueue(q)});
    return SumOfIntegers(std::move(lengths));
  }

  absl::StatusOr<std::vector<std::string>> DoFailures(std::string_view queue, int64_t start,
                                                      int64_t count) override {
    return Range(FailedKey(queue), start, count);
  }

  absl::StatusOr<bool> DoUpdateFailure(std::string_view queue, int64_t index,
                                       std::string_view failure_json) override {
    const std::string key = FailedKey(queue);
    absl::StatusOr<Replies> r = Run({{"LSET", key, Int(index), Str(failure_json)}});
    if (!r.ok()) return r.status();
    return LsetFound(*(*r)[0], key);
  }

  absl::StatusOr<bool> DoRemoveFailure(std::string_view queue, int64_t index) override {
    // Lists have no remove-by-index: mark the record with a value no one else writes, then
    // remove that value. In one transaction, so no reader ever sees the mark.
    const std::string key = FailedKey(queue);
    const std::string mark = absl::StrFormat("resque-cpp:removed:%s", NewJobId());
    absl::StatusOr<Replies> r =
        Run({{"MULTI"}, {"LSET", key, Int(index), mark}, {"LREM", key, "1", mark}, {"EXEC"}});
    if (!r.ok()) return r.status();
    const redisReply& exec = *r->back();
    if (exec.type != REDIS_REPLY_ARRAY || exec.elements != 2) return Unexpected(exec, "EXEC");
    return LsetFound(*exec.element[0], key);
  }

  absl::StatusOr<bool> DoEditFailure(std::string_view queue, const FailureEdit& edit) override {
    const std::string mark = absl::StrFormat("resque-cpp:removed:%s", NewJobId());
    absl::StatusOr<Reply> r = RunScript(EditFailureCall(keys_, FailedKey(queue), edit, mark));
    if (!r.ok()) return r.status();
    absl::StatusOr<int64_t> edited = IntegerOf(**r, "the edit_failure script");
    if (!edited.ok()) return edited.status();
    return *edited == 1;
  }

  absl::Status DoClearFailures(std::string_view queue) override {
    if (failures_ == FailureLayout::kOneList) return Pipeline({{"DEL", keys_.Failed()}}).status();
    std::vector<std::string> queues = {std::string(queue)};
    if (queue.empty()) {
      absl::StatusOr<std::vector<std::string>> all = DoFailureQueues();
      if (!all.ok()) return all.status();
      queues = *std::move(all);
      if (queues.empty()) return absl::OkStatus();
    }
    // The names leave failed_queues with their lists (Ruby keeps them, showing empty queues);
    // a name added meanwhile stays, with the record that came with it.
    Command del = {"DEL"};
    Command srem = {"SREM", keys_.FailedQueues()};
    for (const std::string& q : queues) {
      del.push_back(keys_.FailedQueue(q));
      srem.push_back(Keys::FailedQueueName(q));
    }
    return Transaction({std::move(del), std::move(srem)}).status();
  }

  // The members of failed_queues that name a "<queue>_failed" list, as queue names, sorted.
  absl::StatusOr<std::vector<std::string>> DoFailureQueues() override {
    absl::StatusOr<std::vector<std::string>> names = SortedMembers(keys_.FailedQueues());
    if (!names.ok()) return names.status();
    std::vector<std::string> queues;
    for (std::string& name : *names) {
      absl::string_view q = name;
      if (absl::ConsumeSuffix(&q, AbslView(Keys::kFailedSuffix)) && !q.empty())
        queues.emplace_back(q);
    }
    std::sort(queues.begin(), queues.end());
    return queues;
  }

  // ---- Pausing every worker ----

  absl::StatusOr<bool> DoAllWorkersPaused() override {
    absl::StatusOr<Reply> r = RunOne({"GET", keys_.PauseAllWorkers()});
    if (!r.ok()) return r.status();
    const redisReply& flag = **r;
    if (flag.type == REDIS_REPLY_ERROR) return ReplyStatus(flag, keys_.PauseAllWorkers());
    return flag.type == REDIS_REPLY_STRING && PauseFlagSet(std::string_view(flag.str, flag.len));
  }

  absl::Status DoPauseAllWorkers(bool paused) override {
    // As Ruby's Resque.redis.set('pause-all-workers', 'true') and its del.
    if (paused) return Pipeline({{"SET", keys_.PauseAllWorkers(), "true"}}).status();
    return Pipeline({{"DEL", keys_.PauseAllWorkers()}}).status();
  }

  absl::Status DoSetWorkerPaused(std::string_view worker_id, bool paused) override {
    return Pipeline({{paused ? "SADD" : "SREM", keys_.PausedWorkers(), Str(worker_id)}}).status();
  }

  absl::StatusOr<std::vector<std::string>> DoPausedWorkers() override {
    return SortedMembers(keys_.PausedWorkers());
  }

  // The longest pause between two tries of a reserve over several queues: how late a job pushed
  // to a waiting reliable worker may be noticed.
  static constexpr absl::Duration kMaxReservePollPause = absl::Milliseconds(100);

  absl::StatusOr<std::optional<ReservedJob>> ReserveInFlightNow(
      absl::Span<const std::string> queues, std::string_view owner, bool* paused) {
    absl::StatusOr<std::vector<ReservedJob>> jobs = ReserveManyNow(queues, owner, 1, paused);
    if (!jobs.ok()) return jobs.status();
    if (jobs->empty()) return std::nullopt;
    return std::move(jobs->front());
  }

  // Up to `max` jobs of the first non-empty queue into `owner`'s in-flight list, without waiting.
  absl::StatusOr<std::vector<ReservedJob>> ReserveManyNow(absl::Span<const std::string> queues,
                                                          std::string_view owner, int max,
                                                          bool* paused) {
    absl::StatusOr<Reply> r =
        RunScript(ReserveManyCall(keys_, queues, owner, max, /*honour_pause=*/paused != nullptr));
    if (!r.ok()) return r.status();
    if (PausedReply(**r, paused)) return std::vector<ReservedJob>();
    return ReservationsOf(**r, queues);
  }

  // The reserve scripts reply -1 while the fleet-wide pause flag is set.
  static bool PausedReply(const redisReply& reply, bool* paused) {
    if (paused == nullptr || reply.type != REDIS_REPLY_INTEGER || reply.integer != -1) return false;
    *paused = true;
    return true;
  }

  // The blocking reserves cannot look at the pause flag before they wait (a blocking command
  // cannot be made conditional), so they GET it in the same round trip, right after: the server
  // runs the GET once the wait is over, so it reads the flag as it was when the job came (or the
  // wait ended). A job that came while the flag was set is handed back to the head of its queue,
  // first in line as it was, before anyone could have started it (a worker that honours the flag
  // takes none meanwhile). A worker told "paused" stops reserving and reads the flag alone until
  // it is cleared, so this happens at most once per pause, not per job.
  bool PauseFlagReply(const Replies& replies, bool* paused) const {
    if (paused == nullptr) return false;
    const redisReply& flag = *replies.back();
    if (flag.type != REDIS_REPLY_STRING || !PauseFlagSet(std::string_view(flag.str, flag.len))) {
      return false;
    }
    *paused = true;
    return true;
  }

  // One queue, waiting: BLMOVE into the in-flight list, with the queue noted in the worker's set
  // first, in the same round trip (the server runs the SADD before the BLMOVE even if this
  // worker dies right after sending them).
  absl::StatusOr<std::optional<ReservedJob>> ReserveInFlightBlocking(const std::string& queue,
                                                                     std::string_view owner,
                                                                     absl::Duration wait,
                                                                     bool* paused) {
    const std::string key = keys_.Queue(queue);
    const std::string dest = keys_.InFlight(owner, queue);
    std::vector<Command> commands = {{"SADD", keys_.InFlightQueues(owner), queue},
                                     {"BLMOVE", key, dest, "LEFT", "RIGHT", BlockSeconds(wait)}};
    if (paused != nullptr) commands.push_back({"GET", keys_.PauseAllWorkers()});
    // A stopping worker may drop the connection mid-wait: a job the BLMOVE takes meanwhile sits
    // in the in-flight list, which the slot hands back as it unregisters.
    absl::StatusOr<Replies> r =
        Run(std::move(commands), wait, ConnectionPool::Session::Abandon::kAllowed);
    if (!r.ok()) return r.status();
    RESQUE_RETURN_IF_ERROR(ReplyStatus(*(*r)[0], keys_.InFlightQueues(owner)));
    const redisReply& reply = *(*r)[1];
    if (reply.type == REDIS_REPLY_ERROR) return ReplyStatus(reply, key);
    absl::StatusOr<std::optional<std::string>> payload = OptionalStringOf(reply, "BLMOVE");
    if (!payload.ok()) return payload.status();
    const bool now_paused = PauseFlagReply(*r, paused);
    if (!payload->has_value()) return std::nullopt;
    ReservedJob job{queue, **std::move(payload)};
    if (!now_paused) return job;
    // Safe to hand back: the job sits in this slot's in-flight list until the unreserve takes it
    // out, so a failure here leaves it for the reserver's hand-back of orphans (or a recovery).
    const UnreserveJob back[] = {{.job = job, .job_id = {}}};
    absl::StatusOr<Reply> unreserved =
        RunScript(UnreserveCall(keys_, {.owner = owner, .jobs = back}));
    if (!unreserved.ok()) return unreserved.status();
    return std::nullopt;
  }

  absl::StatusOr<std::optional<ReservedJob>> ReserveNow(absl::Span<const std::string> queues,
                                                        std::vector<std::string> keys,
                                                        bool* paused) {
    absl::StatusOr<Reply> r =
        RunScript(ReserveCall(std::move(keys), paused != nullptr ? keys_.PauseAllWorkers() : ""));
    if (!r.ok()) return r.status();
    if (PausedReply(**r, paused)) return std::nullopt;
    return ReservationOf(**r, queues);
  }

  absl::StatusOr<std::optional<ReservedJob>> ReserveBlocking(absl::Span<const std::string> queues,
                                                             std::vector<std::string> keys,
                                                             absl::Duration wait, bool* paused) {
    Command blpop = {"BLPOP"};
    blpop.insert(blpop.end(), keys.begin(), keys.end());
    blpop.push_back(BlockSeconds(wait));
    std::vector<Command> commands = {std::move(blpop)};
    if (paused != nullptr) commands.push_back({"GET", keys_.PauseAllWorkers()});
    absl::StatusOr<Replies> r = Run(std::move(commands), wait);
    if (!r.ok()) return r.status();
    const redisReply& reply = *(*r)[0];
    if (reply.type == REDIS_REPLY_ERROR) {
      return ReplyStatus(reply, keys.size() == 1 ? keys[0] : "one of the queues");
    }
    if (reply.type == REDIS_REPLY_NIL) return std::nullopt;
    absl::StatusOr<std::vector<std::string>> pair = StringsOf(reply, "BLPOP");
    if (!pair.ok()) return pair.status();
    if (pair->size() != 2) return Unexpected(reply, "BLPOP");
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] != (*pair)[0]) continue;
      ReservedJob job{queues[i], std::move((*pair)[1])};
      if (!PauseFlagReply(*r, paused)) return job;
      // Paused while it came (see PauseFlagReply): back to the head of its queue. Should the push
      // fail, the job exists only here, so it is performed rather than lost.
      if (!RunOne({"LPUSH", keys[i], job.payload}).ok()) {
        *paused = false;
        return job;
      }
      return std::nullopt;
    }
    return absl::InternalError(
        absl::StrFormat("redis: BLPOP answered from key \"%s\", not asked for", (*pair)[0]));
  }

  // ---- Delayed jobs ----

  absl::Status DoPushDelayed(int64_t at, std::string_view item) override {
    return RunScript(PushDelayedCall(keys_, at, item), Durability::kWait, "the delayed enqueue")
        .status();
  }

  // The seconds of the schedule from `start`, at most `count`, with their lists' lengths: a
  // ZRANGE, then one pipeline of LLENs.
  absl::StatusOr<std::vector<DelayedTime>> DoDelayedTimes(int64_t start, int64_t count) override {
    std::vector<DelayedTime> times;
    if (count == 0) return times;
    RESQUE_ASSIGN_OR_RETURN(
        Reply r, RunOne({"ZRANGE", keys_.DelayedSchedule(), Int(start), Int(start + count - 1)}));
    RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> seconds, StringsOf(*r, "ZRANGE"));
    std::vector<Command> lens;
    for (const std::string& second : seconds) {
      int64_t at = 0;
      if (!absl::SimpleAtoi(second, &at)) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "%s holds %s, not a unix second", keys_.DelayedSchedule(), AbslView(second)));
      }
      times.push_back({.at = at});
      lens.push_back({"LLEN", keys_.DelayedAt(at)});
    }
    if (lens.empty()) return times;
    RESQUE_ASSIGN_OR_RETURN(Replies sizes, Pipeline(std::move(lens)));
    for (size_t i = 0; i < times.size(); ++i) {
      RESQUE_ASSIGN_OR_RETURN(times[i].size, IntegerOf(*sizes[i], "LLEN"));
    }
    return times;
  }

  absl::StatusOr<int64_t> DoDelayedCount() override {
    int64_t total = 0;
    constexpr int64_t kChunk = 1000;
    for (int64_t start = 0;; start += kChunk) {  // bounded by the schedule's size
      RESQUE_ASSIGN_OR_RETURN(std::vector<DelayedTime> times, DoDelayedTimes(start, kChunk));
      for (const DelayedTime& t : times) total += t.size;
      if (static_cast<int64_t>(times.size()) < kChunk) return total;
    }
  }

  absl::StatusOr<std::vector<std::string>> DoDelayedItems(int64_t at, int64_t start,
                                                          int64_t count) override {
    return Range(keys_.DelayedAt(at), start, count);
  }

  absl::StatusOr<int64_t> DoRemoveDelayed(std::string_view item) override {
    RESQUE_ASSIGN_OR_RETURN(Reply r, RunScript(MoveDelayedCall(keys_, item, "")));
    return IntegerOf(*r, "the move_delayed script");
  }

  absl::StatusOr<int64_t> DoMoveDelayed(std::string_view item, std::string_view queue) override {
    RESQUE_ASSIGN_OR_RETURN(Reply r, RunScript(MoveDelayedCall(keys_, item, queue)));
    return IntegerOf(*r, "the move_delayed script");
  }

  absl::StatusOr<MoveDueResult> DoMoveDue(const MoveDueRequest& request) override {
    const std::string failed_key =
        failures_ == FailureLayout::kOneList ? keys_.Failed() : keys_.FailedQueue("");
    RESQUE_ASSIGN_OR_RETURN(Reply r, RunScript(MoveDueCall(keys_, failed_key, request)));
    const redisReply& reply = *r;
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3) {
      return Unexpected(reply, "the move_due script");
    }
    MoveDueResult result;
    RESQUE_ASSIGN_OR_RETURN(result.moved, IntegerOf(*reply.element[0], "the move_due script"));
    RESQUE_ASSIGN_OR_RETURN(result.failed, IntegerOf(*reply.element[1], "the move_due script"));
    RESQUE_ASSIGN_OR_RETURN(std::optional<std::string> next,
                            OptionalStringOf(*reply.element[2], "the move_due script"));
    if (next.has_value()) {
      double at = 0;  // a score as Redis writes it: "1700000000", or "1.7e+09" past 2^53
      if (!absl::SimpleAtod(*next, &at)) return Unexpected(reply, "the move_due script");
      result.next_at = static_cast<int64_t>(at);
    }
    return result;
  }

  absl::StatusOr<bool> DoHoldSchedulerLock(std::string_view holder, int64_t ttl_seconds) override {
    RESQUE_ASSIGN_OR_RETURN(Reply r, RunScript(SchedulerLockCall(keys_, holder, ttl_seconds)));
    RESQUE_ASSIGN_OR_RETURN(int64_t held, IntegerOf(*r, "the scheduler_lock script"));
    return held == 1;
  }

  absl::Status DoReleaseSchedulerLock(std::string_view holder) override {
    return RunScript(SchedulerLockCall(keys_, holder, 0)).status();
  }

  absl::StatusOr<std::vector<SchedulerLock>> DoSchedulerLocks() override {
    const std::string master = keys_.SchedulerMasterLock();
    const std::string leader = keys_.SchedulerLeaderLock();
    RESQUE_ASSIGN_OR_RETURN(
        Replies r,
        Pipeline({{"GET", master}, {"PTTL", master}, {"GET", leader}, {"PTTL", leader}}));
    std::vector<SchedulerLock> locks = {{.name = "resque-scheduler"}, {.name = "node-resque"}};
    for (size_t i = 0; i < locks.size(); ++i) {
      RESQUE_ASSIGN_OR_RETURN(std::optional<std::string> holder,
                              OptionalStringOf(*r[2 * i], "GET"));
      RESQUE_ASSIGN_OR_RETURN(int64_t pttl, IntegerOf(*r[2 * i + 1], "PTTL"));
      locks[i].holder = holder.value_or("");
      if (pttl >= 0) locks[i].ttl = absl::Milliseconds(pttl);
    }
    return locks;
  }

  // ---- Recurring schedules ----

  absl::StatusOr<bool> DoSetSchedule(std::string_view name, std::string_view config,
                                     int64_t since) override {
    RESQUE_ASSIGN_OR_RETURN(Reply r, RunScript(SetScheduleCall(keys_, name, config, since)));
    RESQUE_ASSIGN_OR_RETURN(int64_t changed, IntegerOf(*r, "the set_schedule script"));
    return changed == 1;
  }

  absl::StatusOr<bool> DoRemoveSchedule(std::string_view name) override {
    RESQUE_ASSIGN_OR_RETURN(Reply r, RunScript(RemoveScheduleCall(keys_, name)));
    RESQUE_ASSIGN_OR_RETURN(int64_t removed, IntegerOf(*r, "the remove_schedule script"));
    return removed == 1;
  }

  absl::StatusOr<std::vector<ScheduleEntry>> DoSchedules() override {
    const std::vector<std::string> names = {keys_.Schedules(), keys_.ScheduleLastEnqueuedAt(),
                                            keys_.ScheduleOccurrences()};
    RESQUE_ASSIGN_OR_RETURN(
        Replies r, Pipeline({{"HGETALL", names[0]}, {"HGETALL", names[1]}, {"HGETALL", names[2]}}));
    std::vector<absl::flat_hash_map<std::string, std::string>> maps(3);
    for (size_t i = 0; i < maps.size(); ++i) {
      RESQUE_RETURN_IF_ERROR(ReplyStatus(*r[i], names[i]));
      RESQUE_ASSIGN_OR_RETURN(std::vector<std::string> flat, StringsOf(*r[i], "HGETALL"));
      for (size_t j = 0; j + 1 < flat.size(); j += 2) maps[i][flat[j]] = std::move(flat[j + 1]);
    }
    std::vector<ScheduleEntry> out;
    for (auto& [name, config] : maps[0]) {
      ScheduleEntry e{.name = name, .config = std::move(config)};
      if (auto it = maps[1].find(name); it != maps[1].end()) e.last_enqueued_at = it->second;
      if (auto it = maps[2].find(name); it != maps[2].end()) {
        int64_t at = 0;
        if (absl::SimpleAtoi(it->second, &at)) e.last_occurrence = at;
      }
      out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end(),
              [](const ScheduleEntry& a, const ScheduleEntry& b) { return a.name < b.name; });
    return out;
  }

  absl::StatusOr<bool> DoEnqueueOccurrence(const ScheduleOccurrence& occurrence) override {
    RESQUE_ASSIGN_OR_RETURN(Reply r, RunScript(EnqueueOccurrenceCall(keys_, occurrence)));
    RESQUE_ASSIGN_OR_RETURN(int64_t done, IntegerOf(*r, "the enqueue_occurrence script"));
    return done == 1;
  }

  absl::StatusOr<std::vector<std::string>> Range(const std::string& key, int64_t start,
                                                 int64_t count) {
    if (count == 0) return std::vector<std::string>();  // LRANGE k 0 -1 would be everything
    absl::StatusOr<Reply> r = RunOne({"LRANGE", key, Int(start), Int(start + count - 1)});
    if (!r.ok()) return r.status();
    return StringsOf(**r, "LRANGE");
  }

  absl::StatusOr<std::vector<std::string>> SortedMembers(const std::string& key) {
    absl::StatusOr<Reply> r = RunOne({"SMEMBERS", key});
    if (!r.ok()) return r.status();
    absl::StatusOr<std::vector<std::string>> members = StringsOf(**r, "SMEMBERS");
    if (members.ok()) std::sort(members->begin(), members->end());
    return members;
  }

  // Whether an LSET of `key` found its index: false for Redis's "no such key" / "index out of
  // range".
  absl::StatusOr<bool> LsetFound(const redisReply& reply, const std::string& key) {
    if (reply.type != REDIS_REPLY_ERROR) return true;
    const absl::string_view message(reply.str, reply.len);
    if (absl::StrContains(message, "no such key") || absl::StrContains(message, "out of range")) {
      return false;
    }
    RESQUE_RETURN_IF_ERROR(ReplyStatus(reply, key));
    return true;
  }

  // Runs `commands` in one round trip; the first error reply becomes the status.
  absl::StatusOr<Replies> Pipeline(std::vector<Command> commands) {
    absl::StatusOr<Replies> replies = Run(commands);
    if (!replies.ok()) return replies.status();
    for (size_t i = 0; i < commands.size(); ++i) {
      RESQUE_RETURN_IF_ERROR(ReplyStatus(*(*replies)[i], KeyOf(commands[i])));
    }
    return replies;
  }

  absl::StatusOr<Reply> RunOne(Command command) {
    absl::StatusOr<Replies> r = Pipeline({std::move(command)});
    if (!r.ok()) return r.status();
    return std::move((*r)[0]);
  }

  // Runs `commands` (each answering an integer) in one pipeline; the sum of their replies. 0 for
  // no commands, without a round trip.
  absl::StatusOr<int64_t> SumOfIntegers(std::vector<Command> commands) {
    if (commands.empty()) return 0;
    const std::string what = commands[0][0];
    absl::StatusOr<Replies> replies = Pipeline(std::move(commands));
    if (!replies.ok()) return replies.status();
    int64_t total = 0;
    for (const Reply& r : *replies) {
      absl::StatusOr<int64_t> n = IntegerOf(*r, what);
      if (!n.ok()) return n.status();
      total += *n;
    }
    return total;
  }

  absl::StatusOr<int64_t> RunInteger(Command command) {
    const std::string what = command[0];
    absl::StatusOr<Reply> r = RunOne(std::move(command));
    if (!r.ok()) return r.status();
    return IntegerOf(**r, what);
  }

  absl::StatusOr<std::optional<std::string>> RunOptionalString(Command command) {
    const std::string what = command[0];
    absl::StatusOr<Reply> r = RunOne(std::move(command));
    if (!r.ok()) return r.status();
    return OptionalStringOf(**r, what);
  }

  // MULTI, `commands`, EXEC in one round trip. Returns the EXEC reply; an error reply to any
  // command becomes the status.
  absl::StatusOr<Reply> Transaction(std::vector<Command> commands) {
    std::vector<Command> all;
    all.reserve(commands.size() + 2);
    all.push_back({"MULTI"});
    all.insert(all.end(), commands.begin(), commands.end());
    all.push_back({"EXEC"});
    absl::StatusOr<Replies> replies = Run(all);
    if (!replies.ok()) return replies.status();
    for (size_t i = 0; i + 1 < all.size(); ++i) {  // errors while queueing abort the EXEC
      RESQUE_RETURN_IF_ERROR(ReplyStatus(*(*replies)[i], KeyOf(all[i])));
    }
    Reply exec = std::move(replies->back());
    if (exec->type != REDIS_REPLY_ARRAY || exec->elements != commands.size()) {
      RESQUE_RETURN_IF_ERROR(ReplyStatus(*exec, ""));
      return Unexpected(*exec, "EXEC");
    }
    for (size_t i = 0; i < commands.size(); ++i) {
      RESQUE_RETURN_IF_ERROR(ReplyStatus(*exec->element[i], KeyOf(commands[i])));
    }
    return exec;
  }

  // What a write waits for before it is acknowledged (RedisOptions::wait_replicas): nothing;
  // the replicas, failing when they do not all acknowledge in time; the replicas, succeeding
  // anyway.
  enum class Durability { kNone, kWait, kWaitBestEffort };

  bool Waits(Durability d) const { return d != Durability::kNone && wait_replicas_ > 0; }
  Command WaitCommand() const {
    return {"WAIT", Int(wait_replicas_), Int(absl::ToInt64Milliseconds(wait_timeout_))};
  }

  // The reply to WAIT: OK when enough replicas have the write; for `what` ("the enqueue") that
  // was applied on the master but not acknowledged in time, DeadlineExceeded saying so.
  absl::Status Acknowledged(const redisReply& wait, std::string_view what) const {
    RESQUE_RETURN_IF_ERROR(ReplyStatus(wait, "WAIT"));
    RESQUE_ASSIGN_OR_RETURN(const int64_t acked, IntegerOf(wait, "WAIT"));
    if (acked >= wait_replicas_) return absl::OkStatus();
    return absl::DeadlineExceededError(absl::StrFormat(
        "%s is on the master, but only %d of %d replica(s) acknowledged it within %s "
        "(wait_replicas): a failover now could lose it",
        AbslView(what), acked, wait_replicas_, absl::FormatDuration(wait_timeout_)));
  }

  // Pipeline, then (with wait_replicas) WAIT in the same round trip.
  absl::Status DurablePipeline(std::vector<Command> commands, std::string_view what) {
    if (!Waits(Durability::kWait)) return Pipeline(std::move(commands)).status();
    commands.push_back(WaitCommand());
    absl::StatusOr<Replies> replies = Run(commands, wait_timeout_);
    if (!replies.ok()) return replies.status();
    for (size_t i = 0; i + 1 < commands.size(); ++i) {
      RESQUE_RETURN_IF_ERROR(ReplyStatus(*(*replies)[i], KeyOf(commands[i])));
    }
    return Acknowledged(*replies->back(), what);
  }

  // EVALSHA of a script loaded by the pool; EVAL when the server does not know it (it was
  // restarted or flushed its scripts since the connection was made). With `durability`, WAIT
  // follows in the same round trip.
  absl::StatusOr<Reply> RunScript(ScriptCall call, Durability durability = Durability::kNone,
                                  std::string_view what = "the write") {
    const bool waits = Waits(durability);
    const absl::Duration blocking = waits ? wait_timeout_ : absl::ZeroDuration();
    const auto finish = [&](Replies& r) -> absl::StatusOr<Reply> {
      RESQUE_RETURN_IF_ERROR(ScriptStatus(*r[0]));
      if (waits && durability == Durability::kWait) {
        RESQUE_RETURN_IF_ERROR(Acknowledged(*r[1], what));
      }
      return std::move(r[0]);
    };
    const auto run = [&](Command script) {
      std::vector<Command> commands = {std::move(script)};
      if (waits) commands.push_back(WaitCommand());
      return Run(commands, blocking);
    };
    std::string sha = pool_->ScriptSha(call.index());
    absl::StatusOr<Replies> r;
    if (!sha.empty()) {
      r = run(call.Evalsha(std::move(sha)));
      if (!r.ok()) return r.status();
      if (!absl::IsNotFound(ReplyStatus(*(*r)[0], ""))) return finish(*r);
    }
    r = run(call.Eval());
    if (!r.ok()) return r.status();
    return finish(*r);
  }

  // Where every command goes: this backend's session if it has one, else any idle connection of
  // the pool.
  absl::StatusOr<Replies> Run(
      absl::Span<const Command> commands, absl::Duration blocking = absl::ZeroDuration(),
      ConnectionPool::Session::Abandon abandon = ConnectionPool::Session::Abandon::kNever) {
    if (session_.has_value()) return session_->Run(commands, blocking, abandon);
    return pool_->OpenSession().Run(commands, blocking, abandon);
  }

  absl::Status Send(absl::Span<const Command> commands) {
    return session_.has_value() ? session_->Send(commands) : Run(commands).status();
  }

  const Keys keys_;
  const FailureLayout failures_;  // RedisOptions::failures
  Clock* const timer_;            // RedisOptions::timer
  const int wait_replicas_;       // RedisOptions::wait_replicas
  const absl::Duration wait_timeout_;
  const std::shared_ptr<ConnectionPool> pool_;
  // Declared after pool_, so that it ends first (a session must not outlive its pool).
  std::optional<ConnectionPool::Session> session_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> NewRedisBackend(const RedisOptions& options) {
  auto backend = std::make_unique<RedisBackend>(options);
  RESQUE_RETURN_IF_ERROR(backend->Ping());
  return backend;
}

std::optional<int64_t> RedisRoundTrips(Backend& backend) {
  auto* redis = dynamic_cast<RedisBackend*>(&backend);
  if (redis == nullptr) return std::nullopt;
  return redis->round_trips();
}

}  // namespace resque::redis
