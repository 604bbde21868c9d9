// Jobs: the code a worker performs. A job is a class with Perform(), registered by its class name
// (the payload's "class") in a JobRegistry; one instance is made per performed job.
//
//   class SendEmail : public resque::Job {
//    public:
//     absl::Status Perform(const resque::JobContext& ctx) override {
//       // ctx.args() is the payload's JSON array, e.g. [{"to":"a@example.com"}]
//       return absl::OkStatus();
//     }
//   };
//   RESQUE_REGISTER_JOB(SendEmail, "SendEmail");  // or registry.Register<SendEmail>("SendEmail")
//
// A job fails by returning an error status or by throwing; both become a failure record
// (exception class, message) and never take the worker down. SkipJob() from SetUp() or Perform()
// is php-resque's DontPerform: the job is neither complete nor failed.
#ifndef RESQUE_CORE_JOB_H_
#define RESQUE_CORE_JOB_H_

#include <atomic>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "core/payload.h"

namespace resque {

class Queue;

// What a running job can see and use.
class JobContext {
 public:
  JobContext(std::string_view queue, const Payload& payload, std::string_view worker_id,
             Queue* queue_api, const std::atomic<bool>* cancelled)
      : queue_(queue),
        payload_(payload),
        worker_id_(worker_id),
        queue_api_(queue_api),
        cancelled_(cancelled) {}

  std::string_view queue() const { return queue_; }
  const Payload& payload() const { return payload_; }
  std::string_view class_name() const { return payload_.class_name; }
  std::string_view id() const { return payload_.id; }      // empty when the payload has none
  std::string_view args() const { return payload_.args; }  // the JSON array, verbatim
  std::string_view worker_id() const { return worker_id_; }

  // Enqueues follow-up jobs on the same backend. Null when the job runs in a forked child.
  Queue* queues() const { return queue_api_; }

  // True once the worker asks running jobs to stop (a timeout, or TERM): long jobs should check
  // it and return.
  bool Cancelled() const { return cancelled_ != nullptr && cancelled_->load(); }

 private:
  std::string_view queue_;
  const Payload& payload_;
  std::string_view worker_id_;
  Queue* queue_api_;
  const std::atomic<bool>* cancelled_;
};

class Job {
 public:
  virtual ~Job() = default;

  // Runs before Perform; an error fails the job without performing it.
  virtual absl::Status SetUp(const JobContext&) { return absl::OkStatus(); }
  virtual absl::Status Perform(const JobContext& ctx) = 0;
  // Runs after Perform when SetUp succeeded, whatever Perform did.
  virtual void TearDown(const JobContext&) {}
};

// Returned from SetUp or Perform to skip the job (php-resque's Resque_Job_DontPerform).
absl::Status SkipJob(std::string_view reason);
bool IsSkipJob(const absl::Status& status);

}  // namespace resque

#endif  // RESQUE_CORE_JOB_H_
