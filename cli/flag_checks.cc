#include "cli/flag_checks.h"

#include <charconv>
#include <cmath>
#include <string>
#include <system_error>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace resque::cli {
namespace {

// How from_chars read the whole of `text` as a T.
enum class Read { kOk, kOutOfRange, kNotANumber };

template <typename T>
Read ReadWhole(const std::string& text, T& value) {
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (stop != end || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return Read::kNotANumber;
  }
  return ec == std::errc() ? Read::kOk : Read::kOutOfRange;
}

}  // namespace

CLI::Validator Seconds(double min, double max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        double value = 0;
        const Read read = ReadWhole(text, value);
        if (read == Read::kNotANumber || (read == Read::kOk && !std::isfinite(value))) {
          return absl::StrFormat("\"%s\" is not a finite number of seconds", text);
        }
        if (read == Read::kOutOfRange || value < min || value > max) {
          return absl::StrFormat("%s is out of range: want %.12g to %.12g seconds", text, min, max);
        }
        return "";
      },
      absl::StrFormat("%.12g to %.12g seconds", min, max));
}

CLI::Validator ZeroOrAtLeast(double floor, const char* zero_means) {
  return CLI::Validator(
      [floor, zero_means](std::string& text) -> std::string {
        double value = 0;
        if (ReadWhole(text, value) == Read::kOk && value > 0 && value < floor) {
          return absl::StrFormat("%s is out of range: want 0 (%s) or at least %.12g seconds", text,
                                 zero_means, floor);
        }
        return "";
      },
      absl::StrFormat("0 or at least %.12g", floor));
}

CLI::Validator WholeNumber(int64_t min, int64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        int64_t value = 0;
        const Read read = ReadWhole(text, value);
        if (read == Read::kNotANumber) {
          return absl::StrFormat("\"%s\" is not a whole number", text);
        }
        if (read == Read::kOutOfRange || value < min || value > max) {
          return absl::StrFormat("%s is out of range: want %d to %d", text, min, max);
        }
        return "";
      },
      absl::StrFormat("%d to %d", min, max));
}

CLI::Validator OneOf(std::vector<std::string> names) {
  const std::string listed = absl::StrJoin(names, " or ");
  return CLI::Validator(
      [names = std::move(names), listed](std::string& text) -> std::string {
        for (const std::string& name : names) {
          if (text == name) return "";
        }
        return absl::StrFormat("\"%s\" is not one of the choices: want %s", text, listed);
      },
      listed);
}

}  // namespace resque::cli
