// The bad-input corpus on the memory backend: what a user's unit tests of job code see.
#include "backends/memory/memory_backend.h"
#include "tests/reliability/bad_input.h"

namespace resque::testing {
namespace {

BackendMaker Memory() {
  return {"Memory", [] { return memory::NewMemoryBackend(); }};
}

INSTANTIATE_TEST_SUITE_P(Memory, BadPayload,
                         ::testing::Combine(::testing::Values(Memory()),
                                            ::testing::ValuesIn(BadPayloadCases())),
                         BadPayloadName);
INSTANTIATE_TEST_SUITE_P(Memory, BadInput, ::testing::Values(Memory()), BackendName);

}  // namespace
}  // namespace resque::testing
