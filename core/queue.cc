#include "core/queue.h"

#include "absl/strings/str_format.h"
#include "core/json.h"
#include "core/names.h"
#include "core/status.h"
#include "core/status_macros.h"

namespace resque {

absl::StatusOr<std::string> Queue::Enqueue(std::string_view queue, std::string_view class_name,
                                           std::string_view args_json,
                                           const EnqueueOptions& options) {
  RESQUE_RETURN_IF_ERROR(CheckQueueName(queue));
  RESQUE_RETURN_IF_ERROR(CheckClassName(class_name));
  absl::StatusOr<std::string> args = ArgsFromUserJson(args_json);
  if (!args.ok()) return args.status();

  Payload payload;
  payload.class_name = std::string(class_name);
  payload.args = *std::move(args);
  std::string encoded;
  if (options.ruby_form) {
    if (options.track || !options.id.empty()) {
      return absl::InvalidArgumentError(
          "a job in Ruby's form has no id: it cannot be tracked or given an id");
    }
    absl::StatusOr<std::string> ruby = EncodeRubyPayload(payload.class_name, payload.args);
    if (!ruby.ok()) return ruby.status();
    encoded = *std::move(ruby);
  } else {
    payload.id = options.id.empty() ? NewJobId() : options.id;
    payload.queue_time = absl::ToDoubleSeconds(clock_->Now() - absl::UnixEpoch());
  }

  if (hooks_ != nullptr) {
    const JobEvent event{.queue = queue, .payload = payload, .worker_id = {}};
    RESQUE_RETURN_IF_ERROR(RunHooks(hooks_->before_enqueue, event));
  }
  // The status exists before the payload does, so that a worker that takes the job at once
  // finds it tracked.
  if (options.track) {
    RESQUE_RETURN_IF_ERROR(StatusTracker(backend_, clock_).Create(payload.id));
  }
  RESQUE_RETURN_IF_ERROR(
      backend_.Push(queue, options.ruby_form ? encoded : EncodePayload(payload)));
  if (hooks_ != nullptr) {
    const JobEvent event{.queue = queue, .payload = payload, .worker_id = {}};
    // The job is queued by now: an after_enqueue error cannot take it back.
    (void)RunHooks(hooks_->after_enqueue, event);
  }
  return payload.id;
}

absl::StatusOr<std::string> Queue::EnqueueAt(absl::Time at, std::string_view queue,
                                             std::string_view class_name,
                                             std::string_view args_json,
                                             const EnqueueOptions& options) {
  RESQUE_RETURN_IF_ERROR(CheckQueueName(queue));
  RESQUE_RETURN_IF_ERROR(CheckClassName(class_name));
  if (options.ruby_form) {
    return absl::InvalidArgumentError("a delayed job cannot be written in Ruby's form");
  }
  if (at < absl::UnixEpoch() || at == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("a delayed job's time %s is not after 1970", absl::FormatTime(at)));
  }
  absl::StatusOr<std::string> args = ArgsFromUserJson(args_json);
  if (!args.ok()) return args.status();
  // class, args, id, then queue: resque-scheduler and node-resque read
  // "queue"; peers that re-enqueue the job keep class and args.
  Payload payload;
  payload.class_name = std::string(class_name);
  payload.args = *std::move(args);
  payload.extra.emplace_back("queue", json::Quote(queue));
  payload.id = options.id.empty() ? NewJobId() : options.id;
  if (hooks_ != nullptr) {
    const JobEvent event{.queue = queue, .payload = payload, .worker_id = {}};
    RESQUE_RETURN_IF_ERROR(RunHooks(hooks_->before_enqueue, event));
  }
  if (options.track) {
    RESQUE_RETURN_IF_ERROR(StatusTracker(backend_, clock_).Create(payload.id));
  }
  RESQUE_RETURN_IF_ERROR(backend_.PushDelayed(absl::ToUnixSeconds(at), EncodePayload(payload)));
  return payload.id;
}

absl::StatusOr<std::string> Queue::EnqueueIn(absl::Duration delay, std::string_view queue,
                                             std::string_view class_name,
                                             std::string_view args_json,
                                             const EnqueueOptions& options) {
  if (delay < absl::ZeroDuration() || delay == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("a delay of %s (not negative, not infinite)", absl::FormatDuration(delay)));
  }
  return EnqueueAt(clock_->Now() + delay, queue, class_name, args_json, options);
}

absl::Status Queue::EnqueuePayload(std::string_view queue, const Payload& payload) {
  RESQUE_RETURN_IF_ERROR(CheckQueueName(queue));
  const std::string encoded = EncodePayload(payload);
  if (absl::StatusOr<Payload> check = DecodePayload(encoded); !check.ok()) return check.status();
  return backend_.Push(queue, encoded);
}

}  // namespace resque
