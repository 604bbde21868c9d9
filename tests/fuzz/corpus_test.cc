// Runs every input of the fuzzer's corpus (tests/fuzz/corpus/) through the fuzz target's checks,
// one test per file, in every build: the seeds and whatever the fuzzer once found stay covered
// without clang. A broken invariant aborts the test that names the file.
//
// Corpus file names say what a file is: payload-* decode as job payloads, status-* as statuses,
// failure-* as failure records; bad-* and found-* (inputs the fuzzer found) are anything.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "core/failure.h"
#include "core/payload.h"
#include "core/status.h"
#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace resque::testing {
namespace {

std::vector<std::string> CorpusFiles() {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(RESQUE_FUZZ_CORPUS_DIR, error)) {
    if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string ReadCorpusFile(const std::string& name) {
  std::ifstream in(std::string(RESQUE_FUZZ_CORPUS_DIR) + "/" + name, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// gtest names allow only letters, digits and underscores.
std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class FuzzCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzCorpus, PassesTheFuzzTargetsChecks) {
  const std::string bytes = ReadCorpusFile(GetParam());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

// The seeds are worth something only if they reach past the first error: each peer's form must
// decode as what its name says.
TEST_P(FuzzCorpus, DecodesAsWhatItsNameSays) {
  const std::string& name = GetParam();
  const std::string bytes = ReadCorpusFile(name);
  if (absl::StartsWith(name, "payload-")) {
    EXPECT_TRUE(DecodePayload(bytes).ok()) << DecodePayload(bytes).status();
  } else if (absl::StartsWith(name, "status-")) {
    EXPECT_TRUE(DecodeStatus(bytes).ok()) << DecodeStatus(bytes).status();
  } else if (absl::StartsWith(name, "failure-")) {
    EXPECT_TRUE(DecodeFailure(bytes).ok()) << DecodeFailure(bytes).status();
  } else if (absl::StartsWith(name, "bad-")) {
    EXPECT_FALSE(DecodePayload(bytes).ok()) << "a bad-* seed decodes as a payload";
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, FuzzCorpus, ::testing::ValuesIn(CorpusFiles()), TestName);

TEST(FuzzCorpusFiles, HoldsTheSeedsOfEveryPeer) {
  const std::vector<std::string> names = CorpusFiles();
  for (const char* seed :
       {"payload-php-resque.json", "payload-ruby-resque.json", "payload-node-resque.json",
        "status-php-resque-waiting.json", "failure-ruby-resque.json", "failure-php-resque.json"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), seed), names.end()) << seed;
  }
}

}  // namespace
}  // namespace resque::testing
