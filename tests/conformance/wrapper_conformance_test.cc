// The conformance suite, continued: faults injected through BackendWrapper into a worker over
// each backend (a finish whose server was away, a reserve whose reply was lost), and sessions.
// Compiled into every backend's binary with the rest of the suite.
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/backend.h"
#include "core/backend_wrapper.h"
#include "core/job.h"
#include "core/job_registry.h"
#include "core/status_macros.h"
#include "core/worker.h"
#include "gmock/gmock.h"
#include "tests/conformance/backend_conformance.h"
#include "tests/status_testing.h"

namespace resque::testing {
namespace {

using ::testing::IsEmpty;

constexpr char kPayload[] = R"({"class":"Count","args":[],"id":"w1"})";

// Fails the first `finish_faults` finishes as if the server were away (nothing applied), and
// loses the reply of the first `reserve_faults` reserves (applied, then Unavailable).
class Faulty : public BackendWrapper {
 public:
  using BackendWrapper::BackendWrapper;

  std::atomic<int> finish_faults{0};
  std::atomic<int> reserve_faults{0};
  std::atomic<int> finishes{0};

 protected:
  absl::Status DoFinish(const FinishWrite& write) override {
    ++finishes;
    if (finish_faults.fetch_sub(1) > 0) return absl::UnavailableError("injected: finish");
    return BackendWrapper::DoFinish(write);
  }
  absl::StatusOr<size_t> DoReserve(const ReserveRequest& request,
                                   absl::Span<ReservedJob> out) override {
    RESQUE_ASSIGN_OR_RETURN(const size_t n, BackendWrapper::DoReserve(request, out));
    if (n > 0 && reserve_faults.fetch_sub(1) > 0) {
      return absl::UnavailableError("injected: reserve reply lost");  // the reply never came
    }
    return n;
  }
};

class CountJob : public Job {
 public:
  explicit CountJob(std::atomic<int>* runs) : runs_(runs) {}
  absl::Status Perform(const JobContext&) override {
    ++*runs_;
    return absl::OkStatus();
  }

 private:
  std::atomic<int>* runs_;
};

// A registry with one job class, "Count", that counts its runs.
struct Counted {
  Counted() {
    EXPECT_TRUE(
        registry.Register("Count", [this] { return std::make_unique<CountJob>(&runs); }).ok());
  }
  JobRegistry registry;
  std::atomic<int> runs{0};
};

WorkerOptions Options() {
  return {.queues = {"mail"},
          .interval = absl::ZeroDuration(),
          .hostname = "faulty",
          .log = [](LogLevel, std::string_view) {}};
}

// A worker over a Faulty wrapper of the backend under test, with one "Count" job queued.
struct FaultyWorker {
  FaultyWorker(Backend& backend, int finish_faults, int reserve_faults) : faulty(&backend) {
    faulty.finish_faults = finish_faults;
    faulty.reserve_faults = reserve_faults;
    EXPECT_TRUE(backend.Push("mail", kPayload).ok());
  }
  const std::string& id() const { return worker.worker_ids()[0]; }

  Counted counted;
  Faulty faulty;
  Worker worker{faulty, counted.registry, Options()};
};

TEST_P(BackendConformance, AFinishWhoseServerWasAwayIsRetriedAndRecordedOnce) {
  FaultyWorker w(backend(), /*finish_faults=*/2, /*reserve_faults=*/0);
  EXPECT_EQ(Value(w.worker.WorkOne(absl::ZeroDuration())), true);
  EXPECT_EQ(w.counted.runs.load(), 1);
  EXPECT_EQ(w.faulty.finishes.load(), 3);
  EXPECT_EQ(Value(backend().GetStat("processed")), 1);
  EXPECT_EQ(Value(backend().GetStat("processed:" + w.id())), 1);
  EXPECT_THAT(Value(backend().InFlight(w.id())), IsEmpty());
  EXPECT_EQ(Value(backend().Size("mail")), 0);
}

TEST_P(BackendConformance, AJobWhoseReserveReplyWasLostIsHandedBackAndRunOnce) {
  FaultyWorker w(backend(), /*finish_faults=*/0, /*reserve_faults=*/1);
  EXPECT_CODE(w.worker.WorkOne(absl::ZeroDuration()), kUnavailable);
  EXPECT_EQ(w.counted.runs.load(), 0);
  // The backend did move it: it waits in the slot's in-flight list, not in its queue.
  EXPECT_EQ(Value(backend().InFlight(w.id())).size(), 1u);
  EXPECT_EQ(Value(w.worker.WorkOne(absl::ZeroDuration())), true);
  EXPECT_EQ(w.counted.runs.load(), 1);
  EXPECT_EQ(Value(backend().GetStat("processed")), 1);
  EXPECT_THAT(Value(backend().InFlight(w.id())), IsEmpty());
  EXPECT_EQ(Value(w.worker.WorkOne(absl::ZeroDuration())), false);
}

TEST_P(BackendConformance, AWrapperStillChecksArgumentsBeforeItsStorageVerbs) {
  Faulty faulty(&backend());
  EXPECT_CODE(faulty.Push("", kPayload), kInvalidArgument);
  EXPECT_CODE(faulty.FinishJobs(std::vector<JobFinish>{{.worker_id = "a"}, {.worker_id = "b"}}),
              kInvalidArgument);
  EXPECT_EQ(faulty.finishes.load(), 0);
}

TEST_P(BackendConformance, ASessionStoresWhereItsBackendStores) {
  std::unique_ptr<Backend> session = backend().OpenSession();
  ASSERT_NE(session, nullptr);
  ASSERT_OK(session->Push("mail", kPayload));
  EXPECT_EQ(Value(backend().Size("mail")), 1);
  std::optional<ReservedJob> job =
      Value(session->ReserveInFlight({"mail"}, absl::ZeroDuration(), "host:1:mail"));
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(Value(backend().InFlight("host:1:mail")).size(), 1u);
  ASSERT_OK(session->FinishJob({.worker_id = "host:1:mail", .in_flight = *job}));
  EXPECT_EQ(Value(backend().GetStat("processed")), 1);
  // A session of a wrapper keeps the wrapper's faults.
  Faulty faulty(&backend());
  faulty.finish_faults = 1;
  EXPECT_CODE(faulty.OpenSession()->FinishJob({.worker_id = "host:1:mail"}), kUnavailable);
}

}  // namespace

}  // namespace resque::testing
