#include "core/bounded_text.h"

#include "absl/strings/str_format.h"

namespace resque {
namespace {

// The tail is trimmed once it is this much over its share, so that a long output is not moved
// for each chunk.
constexpr size_t kTrimSlack = 64 * 1024;

constexpr std::string_view kCutMark = "...";

}  // namespace

std::string CutToBytes(std::string_view text, size_t limit) {
  if (text.size() <= limit) return std::string(text);
  if (limit < kCutMark.size()) return std::string(kCutMark.substr(0, limit));
  size_t end = limit - kCutMark.size();
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  std::string out(text.substr(0, end));
  out += kCutMark;
  return out;
}

void BoundedText::Append(std::string_view data) {
  const size_t head = limit_ / 2;
  if (!cut_) {
    text_.append(data);
    if (text_.size() <= limit_) return;
    cut_ = true;
    tail_ = text_.substr(head);
    text_.resize(head);
  } else {
    tail_.append(data);
  }
  const size_t tail_limit = limit_ - head;
  if (tail_.size() > tail_limit + kTrimSlack) {
    dropped_ += tail_.size() - tail_limit;
    tail_.erase(0, tail_.size() - tail_limit);
  }
}

const std::string& BoundedText::Finish() {
  if (!cut_) return text_;
  const size_t tail_limit = limit_ - limit_ / 2;
  if (tail_.size() > tail_limit) {
    dropped_ += tail_.size() - tail_limit;
    tail_.erase(0, tail_.size() - tail_limit);
  }
  if (!text_.empty() && text_.back() != '\n') text_ += '\n';
  absl::StrAppendFormat(&text_, "[... %d bytes not kept ...]\n", dropped_);
  text_ += tail_;
  tail_.clear();
  cut_ = false;
  dropped_ = 0;
  return text_;
}

}  // namespace resque
