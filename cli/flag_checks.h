// CLI11 validators for numeric flags, so that a value the worker cannot mean (nan, inf, a number
// past what the type holds, hex, a fraction where a count is wanted) is a one-line error before
// anything starts, instead of a busy loop or a silently clamped limit.
//
//   cmd->add_option("--timeout", seconds)->check(Seconds(0, kMaxSeconds));
//   cmd->add_option("--count", count)->check(WholeNumber(1, 256));
#ifndef RESQUE_CLI_FLAG_CHECKS_H_
#define RESQUE_CLI_FLAG_CHECKS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace resque::cli {

// The longest duration any flag takes: a year, in seconds.
inline constexpr double kMaxSeconds = 365.0 * 24 * 3600;

// A finite decimal number of seconds in [min, max].
CLI::Validator Seconds(double min, double max);

// A number of seconds that is 0 (which means `zero_means`) or at least `floor`: for a poll
// interval, where a tiny one is a busy loop against Redis.
CLI::Validator ZeroOrAtLeast(double floor, const char* zero_means);

// A decimal integer in [min, max] (no sign for a min >= 0, no fraction, no exponent, no hex).
CLI::Validator WholeNumber(int64_t min, int64_t max);

// One of `names`, said in words when it is not ("want redis or redis_multi_queue").
CLI::Validator OneOf(std::vector<std::string> names);

}  // namespace resque::cli

#endif  // RESQUE_CLI_FLAG_CHECKS_H_
