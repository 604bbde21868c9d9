// Queue: enqueue jobs and look at queues, over any Backend (php-resque's Resque::enqueue,
// Resque::size, Resque::dequeue...).
//
//   resque::Queue queue(backend);
//   absl::StatusOr<std::string> id =
//       queue.Enqueue("default", "PHP_Job", R"({"name":"Chris"})", {.track = true});
#ifndef RESQUE_CORE_QUEUE_H_
#define RESQUE_CORE_QUEUE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/backend.h"
#include "core/clock.h"
#include "core/hooks.h"
#include "core/payload.h"

namespace resque {

struct EnqueueOptions {
  bool track = false;   // create a "waiting" status that the worker moves along
  std::string id = {};  // the job id; a fresh one when empty
  // Write the payload as Ruby resque's Resque.enqueue does: {"class","args"} in Ruby's JSON bytes,
  // with no id and no queue_time (see EncodeRubyPayload), so that Ruby's
  // Resque.dequeue(klass, *args) can remove it. Such a job has no id: it cannot be tracked, and
  // Enqueue returns "".
  bool ruby_form = false;
};

class Queue {
 public:
  // `hooks` may be null; when given, it must outlive the Queue.
  explicit Queue(Backend& backend, Clock* clock = RealClock(), const Hooks* hooks = nullptr)
      : backend_(backend), clock_(clock), hooks_(hooks) {}

  // Pushes a job of `class_name` on `queue` and returns its id. `args_json` is a JSON array (the
  // positional args), a JSON object (wrapped as php-resque does: [ {...} ]) or empty ([]).
  // InvalidArgument for a queue or class name that not every worker can take (core/names.h), or
  // args that are not an array or object; with ruby_form, also for args Ruby cannot write and for
  // track or an id asked for too.
  absl::StatusOr<std::string> Enqueue(std::string_view queue, std::string_view class_name,
                                      std::string_view args_json = "",
                                      const EnqueueOptions& options = {});

  // Delays a job (resque-scheduler's enqueue_at): it waits in the delayed structures until a
  // scheduler (core/scheduler.h; ours, resque-scheduler's or node-resque's) moves it to `queue`
  // once `at` (to the second, rounded down) has come. A time already past delays it by nothing:
  // the next scheduler turn moves it. Returns its id, as Enqueue does; a tracked job's status is
  // waiting (1) until it runs. The same checks as Enqueue; ruby_form is InvalidArgument (a
  // delayed item always names its queue).
  absl::StatusOr<std::string> EnqueueAt(absl::Time at, std::string_view queue,
                                        std::string_view class_name,
                                        std::string_view args_json = "",
                                        const EnqueueOptions& options = {});
  // EnqueueAt(clock now + delay, ...): resque-scheduler's enqueue_in. `delay` not negative.
  absl::StatusOr<std::string> EnqueueIn(absl::Duration delay, std::string_view queue,
                                        std::string_view class_name,
                                        std::string_view args_json = "",
                                        const EnqueueOptions& options = {});

  // Pushes an already-built payload as it is (after checking the queue name, as Enqueue does, and
  // that the payload decodes).
  absl::Status EnqueuePayload(std::string_view queue, const Payload& payload);

  absl::StatusOr<int64_t> Size(std::string_view queue) { return backend_.Size(queue); }
  absl::StatusOr<std::vector<std::string>> Queues() { return backend_.Queues(); }
  absl::StatusOr<std::vector<std::string>> Peek(std::string_view queue, int64_t start,
                                                int64_t count) {
    return backend_.Peek(queue, start, count);
  }
  absl::Status RemoveQueue(std::string_view queue) { return backend_.RemoveQueue(queue); }

  // Removes the matching jobs from `queue` (php-resque's Resque::dequeue); returns how many.
  absl::StatusOr<int64_t> Dequeue(std::string_view queue, const JobFilter& filter) {
    return backend_.RemoveJobs(queue, filter);
  }

  Backend& backend() { return backend_; }

 private:
  Backend& backend_;
  Clock* clock_;
  const Hooks* hooks_;
};

}  // namespace resque

#endif  // RESQUE_CORE_QUEUE_H_
