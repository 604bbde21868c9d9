// Names of queues, job classes and the key namespace: what a name may hold so that every worker,
// ours and the peers', can take it (docs/wire-format.md, "Names"), and how text read back from
// Redis, which peers may have written with anything in it, shows as one field of one line.
//
//   RESQUE_RETURN_IF_ERROR(resque::CheckQueueName(queue));  // "queue name 'a,b' has a ','..."
//   absl::StatusOr<std::vector<std::string>> queues = resque::ParseQueueList("high, low");
//   std::printf("%s\t%d\n", resque::EscapeField(name).c_str(), size);  // "x\ny", one line
#ifndef RESQUE_CORE_NAMES_H_
#define RESQUE_CORE_NAMES_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace resque {

// Long enough for any real name; a longer one is a mistake (a file's content passed as the name)
// that would otherwise sit in every key, worker id, process title and log line.
inline constexpr size_t kMaxQueueNameBytes = 256;
inline constexpr size_t kMaxClassNameBytes = 1024;  // Ruby's Module::Nested::Names run long
inline constexpr size_t kMaxNamespaceBytes = 256;

// OK when a job may be pushed on queue `name`: 1 to kMaxQueueNameBytes bytes of valid UTF-8 with
// no control character, no space, none of `,` (workers split their queue lists at it), `*` `?`
// `[` `]` (globs in Ruby resque's workers) or `\` (an escape in those globs), and no leading `!`
// (a queue to skip, to Ruby's). Else InvalidArgument: "queue name '<name>' <what>: <why>", the
// name escaped as EscapeField does so that the message stays one line.
absl::Status CheckQueueName(std::string_view name);

// OK for 1 to kMaxClassNameBytes bytes of valid UTF-8 with no control character (spaces are
// allowed: a class is looked up, never split). Else InvalidArgument, as CheckQueueName.
absl::Status CheckClassName(std::string_view name);

// OK for a key namespace (without the trailing ':' that joins it to the rest of a key): 1 to
// kMaxNamespaceBytes bytes of valid UTF-8, no control character, no space.
absl::Status CheckNamespace(std::string_view ns);

// A worker's queue list as QUEUE or `resque work --queue` give it: names split at ',', each
// stripped of the spaces around it (as Ruby resque does), in priority order; `*` (alone between
// commas) stands for every queue. InvalidArgument for an empty list or name, a glob other than
// `*` (Ruby's `high*`, `!low`: not taken here) and a name CheckQueueName refuses.
absl::StatusOr<std::vector<std::string>> ParseQueueList(std::string_view list);

// `text` as one field of a line of text output: `\` shows as `\\`, a newline, tab and carriage
// return as `\n` `\t` `\r`, any other control character (C0, DEL, C1) and each byte that is not
// UTF-8 as `\xNN` (lowercase hex, one per byte). Valid UTF-8 text otherwise shows as is; the
// result never holds a control character, and the original bytes can be read back from it.
std::string EscapeField(std::string_view text);

// The same for a field that holds JSON (a payload): its backslashes are JSON's own escapes and
// show as they are, so a payload as peers write it reads unchanged.
std::string EscapeJsonField(std::string_view json);

}  // namespace resque

#endif  // RESQUE_CORE_NAMES_H_
