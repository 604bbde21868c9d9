// RedisBackend: every Backend verb as one round trip to Redis (a pipeline, MULTI/EXEC or a Lua
// script), with the keys of keys.h and the values handed in by core, written byte for byte.
#include "backends/redis/redis_backend.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "backends/redis/connection.h"
#include "backends/redis/keys.h"
#include "backends/redis/reply.h"
#include "backends/redis/scripts.h"
#include "core/absl_view.h"
#include "core/backend_args.h"
#include "core/job_filter.h"
#include "core/payload.h"
#include "core/status_macros.h"

namespace resque::redis {
namespace {

std::string Str(std::string_view s) { return std::string(s); }

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
      : keys_(options.ns), pool_(std::make_shared<ConnectionPool>(options, ScriptSources())) {}

  // A backend over one session of `parent`'s pool (ConnectionPool::Session): every command goes
  // over that session's connection, so a StartJob's unawaited writes are owned by the session,
  // not parked by thread id. For one caller at a time (a worker slot), which may move between
  // threads. It shares the pool (and keeps it alive) with `parent`.
  RedisBackend(const RedisBackend& parent, ConnectionPool::Session session)
      : keys_(parent.keys_), pool_(parent.pool_), session_(std::move(session)) {}

  // A backend of its own session (see above): what Backend::OpenSession() is to return.
  std::unique_ptr<Backend> NewSession() const {
    return std::make_unique<RedisBackend>(*this, pool_->OpenSession());
  }

  absl::Status Ping() { return pool_->Ping(); }

  // ---- Queues ----

  absl::Status Push(std::string_view queue, std::string_view payload) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(queue, "queue name"));
    return Pipeline(
               {{"SADD", keys_.Queues(), Str(queue)}, {"RPUSH", keys_.Queue(queue), Str(payload)}})
        .status();
  }

  absl::Status PushMany(std::string_view queue, absl::Span<const std::string> payloads) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(queue, "queue name"));
    if (payloads.empty()) return absl::OkStatus();
    Command rpush = {"RPUSH", keys_.Queue(queue)};
    rpush.insert(rpush.end(), payloads.begin(), payloads.end());
    return Pipeline({{"SADD", keys_.Queues(), Str(queue)}, std::move(rpush)}).status();
  }

  absl::StatusOr<std::optional<ReservedJob>> Reserve(absl::Span<const std::string> queues,
                                                     absl::Duration wait) override {
    RESQUE_RETURN_IF_ERROR(backend_args::Reserve(queues, wait));
    std::vector<std::string> keys;
    keys.reserve(queues.size());
    for (const std::string& q : queues) keys.push_back(keys_.Queue(q));
    if (wait == absl::ZeroDuration()) return ReserveNow(queues, std::move(keys));
    return ReserveBlocking(queues, std::move(keys), wait);
  }

  absl::StatusOr<int64_t> Size(std::string_view queue) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(queue, "queue name"));
    return RunInteger({"LLEN", keys_.Queue(queue)});
  }

  absl::StatusOr<std::vector<std::string>> Peek(std::string_view queue, int64_t start,
                                                int64_t count) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(queue, "queue name"));
    RESQUE_RETURN_IF_ERROR(backend_args::Range(start, count));
    return Range(keys_.Queue(queue), start, count);
  }

  absl::StatusOr<std::vector<std::string>> Queues() override {
    return SortedMembers(keys_.Queues());
  }

  absl::Status RemoveQueue(std::string_view queue) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(queue, "queue name"));
    return Transaction({{"SREM", keys_.Queues(), Str(queue)}, {"DEL", keys_.Queue(queue)}})
        .status();
  }

  // Two round trips however many match: read the queue, then LREM each match by value (one
  // pipeline). Removing by value, not by index, keeps pushes and pops made in between.
  absl::StatusOr<int64_t> RemoveJobs(std::string_view queue, const JobFilter& filter) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(queue, "queue name"));
    absl::StatusOr<JobMatcher> matcher = JobMatcher::Create(filter);
    if (!matcher.ok()) return matcher.status();
    const std::string key = keys_.Queue(queue);
    absl::StatusOr<Reply> items = RunOne({"LRANGE", key, "0", "-1"});
    if (!items.ok()) return items.status();
    std::vector<Command> removals;
    const redisReply& list = **items;
    for (size_t i = 0; i < list.elements; ++i) {
      const std::string_view item(list.element[i]->str, list.element[i]->len);
      if (matcher->Matches(item)) removals.push_back({"LREM", key, "1", std::string(item)});
    }
    if (removals.empty()) return 0;
    absl::StatusOr<Replies> removed = Pipeline(std::move(removals));
    if (!removed.ok()) return removed.status();
    int64_t total = 0;
    for (const Reply& r : *removed) {
      absl::StatusOr<int64_t> n = IntegerOf(*r, "LREM");
      if (!n.ok()) return n.status();
      total += *n;
    }
    return total;
  }

  // ---- Statuses ----

  absl::StatusOr<std::string> GetStatus(std::string_view id) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(id, "job id"));
    absl::StatusOr<std::optional<std::string>> v = RunOptionalString({"GET", keys_.Status(id)});
    if (!v.ok()) return v.status();
    if (!v->has_value()) {
      return absl::NotFoundError(absl::StrFormat("job %s has no status", AbslView(id)));
    }
    return **std::move(v);
  }

  absl::Status SetStatus(std::string_view id, std::string_view status_json, absl::Duration ttl,
                         bool only_if_exists) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(id, "job id"));
    RESQUE_RETURN_IF_ERROR(backend_args::Ttl(ttl));
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

  absl::Status RegisterWorker(std::string_view worker_id, std::string_view started) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(worker_id, "worker id"));
    return Transaction({{"SADD", keys_.Workers(), Str(worker_id)},
                        {"SET", keys_.WorkerStarted(worker_id), Str(started)}})
        .status();
  }

  absl::Status UnregisterWorker(std::string_view worker_id) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(worker_id, "worker id"));
    return Transaction({{"SREM", keys_.Workers(), Str(worker_id)},
                        {"DEL", keys_.Worker(worker_id), keys_.WorkerStarted(worker_id),
                         keys_.Stat(absl::StrFormat("processed:%s", AbslView(worker_id))),
                         keys_.Stat(absl::StrFormat("failed:%s", AbslView(worker_id)))},
                        {"HDEL", keys_.Heartbeats(), Str(worker_id)}})
        .status();
  }

  absl::StatusOr<std::vector<std::string>> Workers() override {
    return SortedMembers(keys_.Workers());
  }

  absl::StatusOr<std::optional<std::string>> WorkerJob(std::string_view worker_id) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(worker_id, "worker id"));
    return RunOptionalString({"GET", keys_.Worker(worker_id)});
  }

  absl::StatusOr<std::optional<std::string>> WorkerStarted(std::string_view worker_id) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(worker_id, "worker id"));
    return RunOptionalString({"GET", keys_.WorkerStarted(worker_id)});
  }

  absl::Status StartJob(const JobStart& start) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(start.worker_id, "worker id"));
    // SET replaces a value of any type, so none of these can fail on what the keys hold. They go
    // without waiting for the reply: the job is performed whatever it says, and the connection's
    // next command (this thread's FinishJob) is applied after them.
    std::vector<Command> commands = {{"SET", keys_.Worker(start.worker_id), start.working_json}};
    if (!start.job_id.empty()) {
      commands.push_back({"SET", keys_.Status(start.job_id), start.status_json, "XX"});
    }
    for (const std::string& id : start.other_job_ids) {
      if (!id.empty()) commands.push_back({"SET", keys_.Status(id), start.status_json, "XX"});
    }
    return Send(commands);
  }

  absl::Status FinishJob(const JobFinish& finish) override {
    return FinishJobs(absl::MakeConstSpan(&finish, 1));
  }

  // ---- Reliable reserve and liveness ----

  absl::StatusOr<std::optional<ReservedJob>> ReserveInFlight(absl::Span<const std::string> queues,
                                                             absl::Duration wait,
                                                             std::string_view owner) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(owner, "worker id"));
    RESQUE_RETURN_IF_ERROR(backend_args::Reserve(queues, wait));
    if (wait > absl::ZeroDuration() && queues.size() == 1) {
      return ReserveInFlightBlocking(queues[0], owner, wait);
    }
    // Several queues: Redis has no blocking move from several lists, and BLPOP then a push would
    // lose the job if the worker died in between. So the reserve script (atomic, in priority
    // order) is tried again at growing intervals until the wait is over.
    const absl::Time deadline = absl::Now() + wait;
    absl::Duration pause = absl::Milliseconds(5);
    for (;;) {
      absl::StatusOr<std::optional<ReservedJob>> job = ReserveInFlightNow(queues, owner);
      if (!job.ok() || job->has_value()) return job;
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return std::nullopt;
      absl::SleepFor(std::min(pause, left));
      pause = std::min(pause * 2, kMaxReservePollPause);
    }
  }

  absl::StatusOr<std::vector<ReservedJob>> ReserveInFlightMany(absl::Span<const std::string> queues,
                                                               absl::Duration wait,
                                                               std::string_view owner,
                                                               int max) override {
    RESQUE_RETURN_IF_ERROR(backend_args::BatchMax(max));
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(owner, "worker id"));
    RESQUE_RETURN_IF_ERROR(backend_args::Reserve(queues, wait));
    absl::StatusOr<std::vector<ReservedJob>> jobs = ReserveManyNow(queues, owner, max);
    if (!jobs.ok() || !jobs->empty() || wait <= absl::ZeroDuration()) return jobs;
    // Nothing now: wait for one job the way a single reserve does.
    return Backend::ReserveInFlightMany(queues, wait, owner, 1);
  }

  absl::Status FinishJobs(absl::Span<const JobFinish> finishes) override {
    if (finishes.empty()) return absl::OkStatus();
    const std::string_view wid = finishes[0].worker_id;
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(wid, "worker id"));
    for (const JobFinish& f : finishes) {
      if (f.worker_id != wid) {
        return absl::InvalidArgumentError(
            absl::StrFormat("finish: jobs of workers \"%s\" and \"%s\" in one batch", AbslView(wid),
                            AbslView(f.worker_id)));
      }
      RESQUE_RETURN_IF_ERROR(backend_args::Ttl(f.status_ttl));
      if (f.in_flight.has_value()) {
        RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(f.in_flight->queue, "queue name"));
      }
    }
    return RunScript(FinishManyCall(keys_, finishes)).status();
  }

  absl::StatusOr<int64_t> Unreserve(std::string_view owner, absl::Span<const ReservedJob> jobs,
                                    absl::Span<const std::string> job_ids,
                                    std::string_view status_json) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(owner, "worker id"));
    RESQUE_RETURN_IF_ERROR(backend_args::UnreserveIds(jobs, job_ids));
    if (jobs.empty()) return 0;
    for (const ReservedJob& job : jobs) {
      RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(job.queue, "queue name"));
    }
    absl::StatusOr<Reply> r = RunScript(UnreserveCall(keys_, owner, jobs, job_ids, status_json));
    if (!r.ok()) return r.status();
    return IntegerOf(**r, "the unreserve script");
  }

  absl::StatusOr<std::vector<ReservedJob>> InFlight(std::string_view owner) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(owner, "worker id"));
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

  absl::Status Heartbeat(absl::Span<const std::string> worker_ids, std::string_view beat) override {
    if (worker_ids.empty()) return absl::OkStatus();
    Command hset = {"HSET", keys_.Heartbeats()};
    for (const std::string& id : worker_ids) {
      RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(id, "worker id"));
      hset.push_back(id);
      hset.push_back(Str(beat));
    }
    return Pipeline({std::move(hset)}).status();
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Heartbeats() override {
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

  absl::StatusOr<std::optional<int64_t>> RecoverWorker(
      std::string_view worker_id, std::optional<std::string> if_heartbeat) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(worker_id, "worker id"));
    absl::StatusOr<Reply> r = RunScript(RecoverCall(keys_, worker_id, if_heartbeat));
    if (!r.ok()) return r.status();
    if ((*r)->type == REDIS_REPLY_NIL) return std::nullopt;
    absl::StatusOr<int64_t> moved = IntegerOf(**r, "the recover script");
    if (!moved.ok()) return moved.status();
    return std::optional<int64_t>(*moved);
  }

  // ---- Stats ----

  absl::StatusOr<int64_t> IncrementStat(std::string_view name, int64_t by) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(name, "stat name"));
    return RunInteger({"INCRBY", keys_.Stat(name), Int(by)});
  }

  absl::StatusOr<int64_t> GetStat(std::string_view name) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(name, "stat name"));
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

  absl::Status ClearStat(std::string_view name) override {
    RESQUE_RETURN_IF_ERROR(backend_args::NotEmpty(name, "stat name"));
    return Pipeline({{"DEL", keys_.Stat(name)}}).status();
  }

  // ---- Failures ----

  absl::Status PushFailure(std::string_view failure_json) override {
    return Pipeline({{"RPUSH", keys_.Failed(), Str(failure_json)}}).status();
  }

  absl::StatusOr<int64_t> FailureCount() override { return RunInteger({"LLEN", keys_.Failed()}); }

  absl::StatusOr<std::vector<std::string>> Failures(int64_t start, int64_t count) override {
    RESQUE_RETURN_IF_ERROR(backend_args::Range(start, count));
    return Range(keys_.Failed(), start, count);
  }

  absl::Status UpdateFailure(int64_t index, std::string_view failure_json) override {
    RESQUE_RETURN_IF_ERROR(backend_args::Index(index));
    absl::StatusOr<Replies> r = Run({{"LSET", keys_.Failed(), Int(index), Str(failure_json)}});
    if (!r.ok()) return r.status();
    return LsetStatus(*(*r)[0], index);
  }

  absl::Status RemoveFailure(int64_t index) override {
    RESQUE_RETURN_IF_ERROR(backend_args::Index(index));
    // Lists have no remove-by-index: mark the record with a value no one else writes, then
    // remove that value. In one transaction, so no reader ever sees the mark.
    const std::string mark = absl::StrFormat("resque-cpp:removed:%s", NewJobId());
    absl::StatusOr<Replies> r = Run({{"MULTI"},
                                     {"LSET", keys_.Failed(), Int(index), mark},
                                     {"LREM", keys_.Failed(), "1", mark},
                                     {"EXEC"}});
    if (!r.ok()) return r.status();
    const redisReply& exec = *r->back();
    if (exec.type != REDIS_REPLY_ARRAY || exec.elements != 2) return Unexpected(exec, "EXEC");
    return LsetStatus(*exec.element[0], index);
  }

  absl::Status ClearFailures() override { return Pipeline({{"DEL", keys_.Failed()}}).status(); }

 private:
  // The longest pause between two tries of a reserve over several queues: how late a job pushed
  // to a waiting reliable worker may be noticed.
  static constexpr absl::Duration kMaxReservePollPause = absl::Milliseconds(100);

  absl::StatusOr<std::optional<ReservedJob>> ReserveInFlightNow(
      absl::Span<const std::string> queues, std::string_view owner) {
    absl::StatusOr<std::vector<ReservedJob>> jobs = ReserveManyNow(queues, owner, 1);
    if (!jobs.ok()) return jobs.status();
    if (jobs->empty()) return std::nullopt;
    return std::move(jobs->front());
  }

  // Up to `max` jobs of the first non-empty queue into `owner`'s in-flight list, without waiting.
  absl::StatusOr<std::vector<ReservedJob>> ReserveManyNow(absl::Span<const std::string> queues,
                                                          std::string_view owner, int max) {
    absl::StatusOr<Reply> r = RunScript(ReserveManyCall(keys_, queues, owner, max));
    if (!r.ok()) return r.status();
    return ReservationsOf(**r, queues);
  }

  // One queue, waiting: BLMOVE into the in-flight list, with the queue noted in the worker's set
  // first, in the same round trip (the server runs the SADD before the BLMOVE even if this
  // worker dies right after sending them).
  absl::StatusOr<std::optional<ReservedJob>> ReserveInFlightBlocking(const std::string& queue,
                                                                     std::string_view owner,
                                                                     absl::Duration wait) {
    const std::string key = keys_.Queue(queue);
    const std::string dest = keys_.InFlight(owner, queue);
    absl::StatusOr<Replies> r = Run({{"SADD", keys_.InFlightQueues(owner), queue},
                                     {"BLMOVE", key, dest, "LEFT", "RIGHT", BlockSeconds(wait)}},
                                    wait);
    if (!r.ok()) return r.status();
    RESQUE_RETURN_IF_ERROR(ReplyStatus(*(*r)[0], keys_.InFlightQueues(owner)));
    const redisReply& reply = *(*r)[1];
    if (reply.type == REDIS_REPLY_ERROR) return ReplyStatus(reply, key);
    absl::StatusOr<std::optional<std::string>> payload = OptionalStringOf(reply, "BLMOVE");
    if (!payload.ok()) return payload.status();
    if (!payload->has_value()) return std::nullopt;
    return ReservedJob{queue, **std::move(payload)};
  }

  absl::StatusOr<std::optional<ReservedJob>> ReserveNow(absl::Span<const std::string> queues,
                                                        std::vector<std::string> keys) {
    absl::StatusOr<Reply> r = RunScript(ReserveCall(std::move(keys)));
    if (!r.ok()) return r.status();
    return ReservationOf(**r, queues);
  }

  absl::StatusOr<std::optional<ReservedJob>> ReserveBlocking(absl::Span<const std::string> queues,
                                                             std::vector<std::string> keys,
                                                             absl::Duration wait) {
    Command blpop = {"BLPOP"};
    blpop.insert(blpop.end(), keys.begin(), keys.end());
    blpop.push_back(BlockSeconds(wait));
    absl::StatusOr<Replies> r = Run({std::move(blpop)}, wait);
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
      if (keys[i] == (*pair)[0]) return ReservedJob{queues[i], std::move((*pair)[1])};
    }
    return absl::InternalError(
        absl::StrFormat("redis: BLPOP answered from key \"%s\", not asked for", (*pair)[0]));
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

  static absl::Status NoFailureAt(int64_t index) {
    return absl::NotFoundError(absl::StrFormat("no failure record at index %d", index));
  }

  absl::Status LsetStatus(const redisReply& reply, int64_t index) {
    if (reply.type != REDIS_REPLY_ERROR) return absl::OkStatus();
    const absl::string_view message(reply.str, reply.len);
    if (absl::StrContains(message, "no such key") || absl::StrContains(message, "out of range")) {
      return NoFailureAt(index);
    }
    return ReplyStatus(reply, keys_.Failed());
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

  // EVALSHA of a script loaded by the pool; EVAL when the server does not know it (it was
  // restarted or flushed its scripts since the connection was made).
  absl::StatusOr<Reply> RunScript(ScriptCall call) {
    std::string sha = pool_->ScriptSha(call.index());
    absl::StatusOr<Replies> r;
    if (!sha.empty()) {
      r = Run({call.Evalsha(std::move(sha))});
      if (!r.ok()) return r.status();
      if (!absl::IsNotFound(ReplyStatus(*(*r)[0], ""))) {
        RESQUE_RETURN_IF_ERROR(ScriptStatus(*(*r)[0]));
        return std::move((*r)[0]);
      }
    }
    r = Run({call.Eval()});
    if (!r.ok()) return r.status();
    RESQUE_RETURN_IF_ERROR(ScriptStatus(*(*r)[0]));
    return std::move((*r)[0]);
  }

  // Where every command goes: this backend's session if it has one, else any connection of the
  // pool (ConnectionPool::Send then parks one by thread id).
  absl::StatusOr<Replies> Run(absl::Span<const Command> commands,
                              absl::Duration extra_timeout = absl::ZeroDuration()) {
    return session_.has_value() ? session_->Run(commands, extra_timeout)
                                : pool_->Run(commands, extra_timeout);
  }

  absl::Status Send(absl::Span<const Command> commands) {
    return session_.has_value() ? session_->Send(commands) : pool_->Send(commands);
  }

  const Keys keys_;
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

}  // namespace resque::redis
