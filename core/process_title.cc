#include "core/process_title.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

#ifndef RESQUE_VERSION
#error "RESQUE_VERSION must be defined (CMake's project VERSION)"
#endif

extern char** environ;

namespace resque {
namespace {

constexpr char kShortName[] = "resque-" RESQUE_VERSION;

// What InitProcessTitle set up; SetProcessTitle writes through it.
struct TitleState {
  std::mutex mu;
  std::unique_ptr<TitleArea> area;
  // The copies environ and program_invocation_name point at from then on: kept for the process's
  // life, as the originals were.
  std::vector<std::string> env_strings;
  std::vector<char*> env_pointers;
  std::string invocation_name;
  std::string invocation_short_name;
};

TitleState& State() {
  static TitleState* state = new TitleState;  // never destroyed: environ points into it
  return *state;
}

}  // namespace

std::string FormatProcessTitle(std::string_view status) {
  std::string clean(status);
  for (char& c : clean) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  clean = absl::StrReplaceAll(clean, {{"resque-web", "resque_web"}});
  return absl::StrCat(kShortName, " (resque-cpp): ", clean);
}

TitleArea::TitleArea(int argc, char** argv, char** env) {
  if (argc <= 0 || argv == nullptr || argv[0] == nullptr) return;
  begin_ = argv[0];
  char* end = argv[0];
  // Only strings that follow on from the previous one without a gap belong to the area.
  for (int i = 0; i < argc && argv[i] == end; ++i) end = argv[i] + std::strlen(argv[i]) + 1;
  for (char** e = env; e != nullptr && *e != nullptr && *e == end; ++e) {
    end = *e + std::strlen(*e) + 1;
  }
  size_ = static_cast<size_t>(end - begin_);
}

void TitleArea::Write(std::string_view title) {
  if (size_ == 0) return;
  const size_t n = std::min(title.size(), size_ - 1);
  std::memcpy(begin_, title.data(), n);
  std::memset(begin_ + n, 0, size_ - n);
}

void InitProcessTitle(int argc, char** argv) {
  TitleState& state = State();
  std::lock_guard<std::mutex> lock(state.mu);
  // glibc points program_invocation_name at the process's own argv[0]: anything else is a
  // vector of the caller's making, whose memory the kernel does not show.
  if (state.area != nullptr || argc <= 0 || argv == nullptr || argv[0] != program_invocation_name) {
    return;
  }
  char** old_env = environ;
  for (char** e = old_env; e != nullptr && *e != nullptr; ++e) state.env_strings.emplace_back(*e);
  for (std::string& s : state.env_strings) state.env_pointers.push_back(s.data());
  state.env_pointers.push_back(nullptr);
  state.invocation_name = program_invocation_name;
  state.invocation_short_name = program_invocation_short_name;
  // The area is measured on the old strings before anything points away from them.
  state.area = std::make_unique<TitleArea>(argc, argv, old_env);
  environ = state.env_pointers.data();
  program_invocation_name = state.invocation_name.data();
  program_invocation_short_name = state.invocation_short_name.data();
}

void SetProcessTitle(std::string_view status) {
  TitleState& state = State();
  const std::string title = FormatProcessTitle(status);
  std::lock_guard<std::mutex> lock(state.mu);
  if (state.area != nullptr) state.area->Write(title);
  // PR_SET_NAME names the calling thread; the main thread's name is the process's.
  if (gettid() == getpid()) {
    const std::string name = std::string(kShortName).substr(0, 15);
    prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
  }
}

}  // namespace resque
