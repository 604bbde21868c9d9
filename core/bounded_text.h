// BoundedText: text that comes in chunks (a child's output), of which at most `limit` bytes are
// kept: the first half and the last half, with a line "[... N bytes not kept ...]" between them
// when more came. Memory stays within about `limit` plus one chunk however much comes.
//
//   BoundedText err(64 * 1024);
//   err.Append(chunk);  // ... as often as chunks come
//   std::string kept = err.Finish();
#ifndef RESQUE_CORE_BOUNDED_TEXT_H_
#define RESQUE_CORE_BOUNDED_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace resque {

// `text` whole when it has at most `limit` bytes; else its start, cut at the start of a UTF-8
// character, and "..." where it was cut, `limit` bytes at most in all. For one line of a log or
// one field of a record.
std::string CutToBytes(std::string_view text, size_t limit);

class BoundedText {
 public:
  explicit BoundedText(size_t limit = 1 << 20) : limit_(limit) {}

  void set_limit(size_t limit) { limit_ = limit; }
  void Append(std::string_view data);
  // What was kept, with the note where bytes were cut; for after the last Append (again: the same).
  const std::string& Finish();
  // What came so far, whole while under the limit; the head only once it was cut until Finish().
  const std::string& text() const { return text_; }

 private:
  size_t limit_;
  bool cut_ = false;    // more than `limit_` came: `text_` is the head, `tail_` the rest
  size_t dropped_ = 0;  // bytes dropped from the front of `tail_`
  std::string text_;
  std::string tail_;
};

}  // namespace resque

#endif  // RESQUE_CORE_BOUNDED_TEXT_H_
