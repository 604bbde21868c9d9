#include "core/tickets.h"

#include <algorithm>

namespace resque {

bool Tickets::Take(bool wait) {
  if (max_ <= 0) return true;
  std::unique_lock lock(mu_);
  if (wait) {
    changed_.wait(lock, [this] { return stopped_ || taken_ < max_; });
    if (stopped_) return false;
  }
  if (taken_ >= max_) return false;
  ++taken_;
  return true;
}

int Tickets::TakeMore(int n) {
  if (max_ <= 0 || n <= 0) return std::max(n, 0);
  std::lock_guard lock(mu_);
  const int granted = static_cast<int>(std::min<int64_t>(n, std::max<int64_t>(max_ - taken_, 0)));
  taken_ += granted;
  return granted;
}

void Tickets::Return(int n) {
  if (max_ <= 0 || n <= 0) return;
  {
    std::lock_guard lock(mu_);
    taken_ -= n;
  }
  changed_.notify_all();
}

bool Tickets::Done() {
  if (max_ <= 0) return false;
  std::lock_guard lock(mu_);
  return ++done_ >= max_;
}

void Tickets::Stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  changed_.notify_all();
}

}  // namespace resque
