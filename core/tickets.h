// Tickets: how a worker keeps WorkerOptions::max_jobs across its slots. A slot holds a ticket from
// before it reserves until its job is recorded, so that no more than max_jobs jobs are ever
// taken, and the worker stops when the last one is recorded. Thread-safe.
//
//   resque::Tickets tickets(/*max_jobs=*/10);
//   if (!tickets.Take(/*wait=*/true)) return;  // limit reached, or stopped
//   ... reserve; nothing found: tickets.Return(1); a job recorded: if (tickets.Done()) stop ...
#ifndef RESQUE_CORE_TICKETS_H_
#define RESQUE_CORE_TICKETS_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace resque {

class Tickets {
 public:
  // `max_jobs` <= 0: no limit; then every call succeeds and nothing is counted.
  explicit Tickets(int64_t max_jobs) : max_(max_jobs) {}

  // One ticket. With `wait`, parks while every ticket is held (another slot's reserve may yet
  // find nothing and give its ticket back). False when the limit is reached, or after Stop().
  bool Take(bool wait);
  // Up to `n` more tickets without waiting (all `n` when there is no limit); how many.
  int TakeMore(int n);
  // Gives back tickets whose reserve took no job.
  void Return(int n);
  // Counts a recorded job; true for the one that reaches the limit.
  bool Done();
  // Wakes and fails every Take(wait) from now on.
  void Stop();

  int64_t limit() const { return max_; }

 private:
  const int64_t max_;
  std::mutex mu_;
  std::condition_variable changed_;
  int64_t taken_ = 0;     // guarded by mu_; jobs being worked on or done
  int64_t done_ = 0;      // guarded by mu_
  bool stopped_ = false;  // guarded by mu_
};

}  // namespace resque

#endif  // RESQUE_CORE_TICKETS_H_
