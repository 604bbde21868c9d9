// The process title `ps -o command` shows for a worker: "resque-<version> (resque-cpp): <status>",
// the form Ruby resque's and php-resque's pruning look for when they decide which worker
// processes of their host are alive (docs/wire-format.md, "Worker ids").
//
//   resque::InitProcessTitle(argc, argv);  // in main(), before any thread starts
//   resque::SetProcessTitle("Waiting for high,low");
#ifndef RESQUE_CORE_PROCESS_TITLE_H_
#define RESQUE_CORE_PROCESS_TITLE_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace resque {

// "resque-<version> (resque-cpp): <status>". Control characters in `status` become '?', and
// "resque-web" is written "resque_web": Ruby's pruning drops every line that holds it.
std::string FormatProcessTitle(std::string_view status);

// The memory the kernel shows as a process's command line: argv's strings and, where they follow
// on without a gap, environ's. Writing it changes what `ps -o command` and /proc/<pid>/cmdline
// show; whoever writes it must have copied what still needs those strings.
class TitleArea {
 public:
  // `argv`: `argc` strings; `env`: null-terminated, may be null. Nothing is written yet.
  TitleArea(int argc, char** argv, char** env);

  size_t size() const { return size_; }
  // Writes `title` at the start, cut to size() - 1 bytes, and NULs over the rest.
  void Write(std::string_view title);

 private:
  char* begin_ = nullptr;
  size_t size_ = 0;
};

// Once, from main() with its own argc/argv, before any thread starts: moves environ (and
// program_invocation_name) to copies so that the strings can be overwritten. Does nothing when
// `argv` is not the process's own (an embedder passing a vector of its making).
void InitProcessTitle(int argc, char** argv);

// Shows FormatProcessTitle(status) as the command line (when InitProcessTitle took the process's
// argv) and "resque-<version>" as the short name. Thread-safe; cheap enough for each change of
// state, not meant for each job.
void SetProcessTitle(std::string_view status);

}  // namespace resque

#endif  // RESQUE_CORE_PROCESS_TITLE_H_
