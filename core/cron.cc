#include "core/cron.h"

#include <algorithm>
#include <array>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "core/absl_view.h"
#include "core/names.h"
#include "core/status_macros.h"

namespace resque {
namespace {

// Longer is a mistake (a file passed as the expression), not a schedule.
constexpr size_t kMaxExpressionBytes = 1024;
// Every loop of Next is bounded: segments between zone transitions within the horizon (a
// handful a year), and field steps within one segment.
constexpr int kMaxSegments = 10000;
constexpr int kMaxLocalSteps = 200000;

struct FieldSpec {
  const char* name;
  int min;
  int max;
  // Names for min, min+1, ... (months JAN-DEC, days SUN-SAT), or null.
  const std::array<const char*, 12>* names;
  size_t name_count;
};

constexpr std::array<const char*, 12> kMonthNames = {"jan", "feb", "mar", "apr", "may", "jun",
                                                     "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<const char*, 12> kDayNames = {"sun", "mon", "tue", "wed", "thu", "fri",
                                                   "sat", "",    "",    "",    "",    ""};

constexpr FieldSpec kSecond = {"second", 0, 59, nullptr, 0};
constexpr FieldSpec kMinute = {"minute", 0, 59, nullptr, 0};
constexpr FieldSpec kHour = {"hour", 0, 23, nullptr, 0};
constexpr FieldSpec kDayOfMonth = {"day-of-month", 1, 31, nullptr, 0};
constexpr FieldSpec kMonth = {"month", 1, 12, &kMonthNames, 12};
// 7 is Sunday too; folded into 0 once parsed.
constexpr FieldSpec kDayOfWeek = {"day-of-week", 0, 7, &kDayNames, 7};

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char ch : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(ch))) return false;
  }
  return true;
}

// A number or a name of the field, within its range.
absl::StatusOr<int> ParseValue(std::string_view text, const FieldSpec& spec) {
  if (IsDigits(text)) {
    // More digits than any field's range holds is out of range, whatever it would overflow to.
    int value = 0;
    for (char ch : text.substr(0, 9)) value = value * 10 + (ch - '0');
    if (text.size() > 9 || value < spec.min || value > spec.max) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s is out of range %d-%d", text, spec.min, spec.max));
    }
    return value;
  }
  if (spec.names != nullptr) {
    for (size_t i = 0; i < spec.name_count; ++i) {
      if (absl::EqualsIgnoreCase(AbslView(text), (*spec.names)[i])) {
        return spec.min + static_cast<int>(i);
      }
    }
    return absl::InvalidArgumentError(
        absl::StrFormat("'%s' is neither a number nor a %s name (%s-%s)", text, spec.name,
                        (*spec.names)[0], (*spec.names)[spec.name_count - 1]));
  }
  return absl::InvalidArgumentError(absl::StrFormat("'%s' is not a number", text));
}

// One item of a list: `*`, `?`, `a`, `a-b`, each optionally `/step`.
absl::Status ParseItem(std::string_view item, const FieldSpec& spec, bool question_ok,
                       uint64_t* bits) {
  if (item.empty()) return absl::InvalidArgumentError("empty list item");
  std::string_view range = item;
  int step = 1;
  bool stepped = false;
  if (size_t slash = item.find('/'); slash != std::string_view::npos) {
    range = item.substr(0, slash);
    std::string_view step_text = item.substr(slash + 1);
    const int widest = spec.max - spec.min + 1;
    if (!IsDigits(step_text)) {
      return absl::InvalidArgumentError(absl::StrFormat("step '%s' is not a number", step_text));
    }
    step = 0;
    for (char ch : step_text.substr(0, 9)) step = step * 10 + (ch - '0');
    if (step_text.size() > 9 || step < 1 || step > widest) {
      return absl::InvalidArgumentError(
          absl::StrFormat("step %s is out of range 1-%d", step_text, widest));
    }
    stepped = true;
  }
  int first = spec.min;
  int last = spec.max;
  if (range == "*" || (question_ok && range == "?")) {
    if (&spec == &kDayOfWeek) last = 6;  // `*/2` is Sun Tue Thu Sat, 7 adds nothing
  } else if (size_t dash = range.find('-'); dash != std::string_view::npos) {
    RESQUE_ASSIGN_OR_RETURN(first, ParseValue(range.substr(0, dash), spec));
    RESQUE_ASSIGN_OR_RETURN(last, ParseValue(range.substr(dash + 1), spec));
    if (first > last) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "range %s is reversed (to wrap around, list two ranges: a-max,min-b)", range));
    }
  } else {
    RESQUE_ASSIGN_OR_RETURN(first, ParseValue(range, spec));
    if (!stepped) last = first;  // `a/n` runs from a to the field's end
  }
  for (int v = first; v <= last; v += step) *bits |= uint64_t{1} << v;
  return absl::OkStatus();
}

// A field: items separated by commas.
absl::Status ParseField(std::string_view text, const FieldSpec& spec, uint64_t* bits) {
  const bool question_ok = &spec == &kDayOfMonth || &spec == &kDayOfWeek;
  for (absl::string_view item : absl::StrSplit(AbslView(text), ',')) {
    absl::Status status =
        ParseItem(std::string_view(item.data(), item.size()), spec, question_ok, bits);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s field \"%s\": %s", spec.name, EscapeField(text), status.message()));
    }
  }
  if (&spec == &kDayOfWeek && (*bits & (uint64_t{1} << 7))) *bits = (*bits | 1) & 0x7f;
  return absl::OkStatus();
}

// The fields a macro stands for, or null.
const char* MacroFields(std::string_view macro) {
  static constexpr std::array<std::array<const char*, 2>, 7> kMacros = {{
      {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"},
      {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"},
      {"@daily", "0 0 * * *"},
      {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"},
  }};
  for (const auto& [name, fields] : kMacros) {
    if (absl::EqualsIgnoreCase(AbslView(macro), name)) return fields;
  }
  return nullptr;
}

// Whether a 6-field expression's last token is a time zone rather than a day-of-week field:
// a day-of-week field holds only digits, `* ? , - /` and day names.
bool LooksLikeZone(std::string_view token) {
  size_t i = 0;
  while (i < token.size()) {
    const unsigned char ch = static_cast<unsigned char>(token[i]);
    if (absl::ascii_isdigit(ch) || ch == '*' || ch == '?' || ch == ',' || ch == '-' || ch == '/') {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < token.size() && absl::ascii_isalpha(static_cast<unsigned char>(token[j]))) ++j;
    if (j == i || !ParseValue(token.substr(i, j - i), kDayOfWeek).ok()) return true;
    i = j;
  }
  return false;
}

absl::Status LoadZone(std::string_view name, absl::TimeZone* zone) {
  // Only IANA-style names: LoadTimeZone would also read any file a path names.
  bool plain = !name.empty() && name.size() <= 64 && name[0] != '/' &&
               name.find("..") == std::string_view::npos;
  for (char ch : name) {
    const unsigned char c = static_cast<unsigned char>(ch);
    plain = plain && (absl::ascii_isalnum(c) || c == '/' || c == '_' || c == '-' || c == '+');
  }
  if (!plain || !absl::LoadTimeZone(std::string(name), zone)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "unknown time zone \"%s\" (an IANA name such as America/New_York)", EscapeField(name)));
  }
  return absl::OkStatus();
}

bool Has(uint64_t bits, int v) { return (bits >> v) & 1; }

// The smallest set bit above v, or -1.
int NextBit(uint64_t bits, int v) {
  const uint64_t above = v >= 63 ? 0 : bits & ~((uint64_t{2} << v) - 1);
  return above == 0 ? -1 : __builtin_ctzll(above);
}

}  // namespace

absl::StatusOr<CronSchedule> ParseCron(std::string_view expr, std::string_view time_zone) {
  const absl::string_view stripped = absl::StripAsciiWhitespace(AbslView(expr));
  const std::string_view trimmed(stripped.data(), stripped.size());
  const std::string shown = EscapeField(trimmed.substr(0, 80));
  auto invalid = [&](const absl::Status& status) {
    return absl::InvalidArgumentError(
        absl::StrFormat("cron expression \"%s\": %s", shown, status.message()));
  };
  if (trimmed.empty()) return absl::InvalidArgumentError("cron expression is empty");
  if (trimmed.size() > kMaxExpressionBytes) {
    return invalid(
        absl::InvalidArgumentError(absl::StrFormat("longer than %d bytes", kMaxExpressionBytes)));
  }
  std::vector<std::string_view> tokens;
  for (absl::string_view t :
       absl::StrSplit(AbslView(trimmed), absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
    tokens.emplace_back(t.data(), t.size());
  }
  CronSchedule schedule;
  schedule.expression_ = std::string(trimmed);
  std::string_view zone_name = time_zone;
  std::vector<std::string_view> fields = tokens;
  if (tokens[0][0] == '@') {
    const char* macro = MacroFields(tokens[0]);
    if (macro == nullptr) {
      return invalid(absl::InvalidArgumentError(absl::StrFormat(
          "unknown macro \"%s\" (@yearly @annually @monthly @weekly @daily @midnight @hourly)",
          EscapeField(tokens[0]))));
    }
    if (tokens.size() > 2) {
      return invalid(absl::InvalidArgumentError("a macro takes only a time zone after it"));
    }
    if (tokens.size() == 2) zone_name = tokens[1];
    fields.clear();
    for (absl::string_view t : absl::StrSplit(macro, ' ')) fields.emplace_back(t.data(), t.size());
  } else if (tokens.size() == 7 || (tokens.size() == 6 && LooksLikeZone(tokens[5]))) {
    zone_name = tokens.back();
    fields.pop_back();
  }
  if (fields.size() != 5 && fields.size() != 6) {
    return invalid(absl::InvalidArgumentError(absl::StrFormat(
        "has %d fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (seconds "
        "first), optionally followed by a time zone",
        fields.size())));
  }
  auto parse_fields = [&]() -> absl::Status {
    size_t i = 0;
    if (fields.size() == 6) {
      RESQUE_RETURN_IF_ERROR(ParseField(fields[i++], kSecond, &schedule.seconds_));
    } else {
      schedule.seconds_ = 1;  // second 0
    }
    RESQUE_RETURN_IF_ERROR(ParseField(fields[i++], kMinute, &schedule.minutes_));
    schedule.hour_star_ = fields[i][0] == '*';
    RESQUE_RETURN_IF_ERROR(ParseField(fields[i++], kHour, &schedule.hours_));
    schedule.dom_star_ = fields[i] == "*" || fields[i] == "?";
    RESQUE_RETURN_IF_ERROR(ParseField(fields[i++], kDayOfMonth, &schedule.days_of_month_));
    RESQUE_RETURN_IF_ERROR(ParseField(fields[i++], kMonth, &schedule.months_));
    schedule.dow_star_ = fields[i] == "*" || fields[i] == "?";
    return ParseField(fields[i], kDayOfWeek, &schedule.days_of_week_);
  };
  absl::Status status = parse_fields();
  if (!status.ok()) return invalid(status);
  if (!zone_name.empty()) {
    status = LoadZone(zone_name, &schedule.zone_);
    if (!status.ok()) return invalid(status);
  }
  return schedule;
}

bool CronSchedule::DayMatches(const absl::CivilSecond& c) const {
  const bool dom = Has(days_of_month_, c.day());
  // absl::Weekday counts from Monday = 0; cron from Sunday = 0.
  const int weekday = (static_cast<int>(absl::GetWeekday(absl::CivilDay(c))) + 1) % 7;
  const bool dow = Has(days_of_week_, weekday);
  if (dom_star_ || dow_star_) return dom && dow;  // a `*` field matches every day
  return dom || dow;                              // both restricted: either one, as Vixie cron
}

std::optional<absl::CivilSecond> CronSchedule::NextLocal(absl::CivilSecond c,
                                                         absl::CivilSecond end) const {
  for (int step = 0; step < kMaxLocalSteps && c < end; ++step) {
    if (!Has(months_, c.month())) {
      c = absl::CivilSecond(absl::CivilMonth(c) + 1);
    } else if (!DayMatches(c)) {
      c = absl::CivilSecond(absl::CivilDay(c) + 1);
    } else if (!Has(hours_, c.hour())) {
      const int h = NextBit(hours_, c.hour());
      c = h < 0 ? absl::CivilSecond(absl::CivilDay(c) + 1)
                : absl::CivilSecond(absl::CivilHour(c) + (h - c.hour()));
    } else if (!Has(minutes_, c.minute())) {
      const int m = NextBit(minutes_, c.minute());
      c = m < 0 ? absl::CivilSecond(absl::CivilHour(c) + 1)
                : absl::CivilSecond(absl::CivilMinute(c) + (m - c.minute()));
    } else if (!Has(seconds_, c.second())) {
      const int s = NextBit(seconds_, c.second());
      c = s < 0 ? absl::CivilSecond(absl::CivilMinute(c) + 1) : c + (s - c.second());
    } else {
      return c;
    }
  }
  return std::nullopt;
}

// Walks the zone's segments of constant UTC offset from `after` on. Within a segment local time
// and real time advance together, so the first matching local time is the first occurrence;
// at the transition that ends a segment the gap or repeat rules of the header apply.
std::optional<absl::Time> CronSchedule::Next(absl::Time after) const {
  if (after == absl::InfiniteFuture() || after == absl::InfinitePast()) return std::nullopt;
  const absl::Time limit = after + absl::Hours(24 * kCronHorizonDays);
  absl::Time t = absl::FromUnixSeconds(absl::ToUnixSeconds(after)) + absl::Seconds(1);
  // Whether t starts a segment (then its own offset applies) or may end one (then the offset
  // before it does, so that a transition at exactly t gets its gap checked).
  bool at_segment_start = false;
  for (int segment = 0; segment < kMaxSegments && t <= limit; ++segment) {
    const absl::Time base = at_segment_start ? t : t - absl::Seconds(1);
    const absl::TimeZone::CivilInfo info = zone_.At(base);
    const absl::CivilSecond start = info.cs + (at_segment_start ? 0 : 1);
    absl::TimeZone::CivilTransition transition;
    const bool has_transition = zone_.NextTransition(base, &transition);
    // Clamped: near the end of absl::Time's range, limit is infinite.
    const int64_t horizon_seconds = int64_t{86400} * kCronHorizonDays + 1;
    absl::CivilSecond end =
        info.cs + std::min(absl::ToInt64Seconds(limit - base), horizon_seconds) + 1;
    if (has_transition && transition.from < end) end = transition.from;
    if (std::optional<absl::CivilSecond> local = NextLocal(start, end)) {
      const absl::Time when = base + absl::Seconds(*local - info.cs);
      const absl::TimeZone::TimeInfo civil = zone_.At(*local);
      if (!hour_star_ && civil.kind == absl::TimeZone::TimeInfo::REPEATED && when == civil.post) {
        t = civil.trans + (civil.post - civil.pre);  // past the second copy
        at_segment_start = true;
        continue;
      }
      return when;
    }
    if (!has_transition) return std::nullopt;
    const absl::Time segment_end = base + absl::Seconds(transition.from - info.cs);
    if (segment_end > limit) return std::nullopt;
    if (!hour_star_ && transition.to > transition.from &&
        NextLocal(transition.from, transition.to).has_value()) {
      return segment_end;  // a local time in the gap runs when the gap ends
    }
    t = segment_end;
    at_segment_start = true;
  }
  return std::nullopt;
}

absl::StatusOr<absl::Duration> ParseEvery(std::string_view every) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(AbslView(every));
  const std::string shown = EscapeField(std::string_view(trimmed.data(), trimmed.size()));
  auto invalid = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrFormat("every \"%s\": %s", shown, why));
  };
  if (trimmed.empty()) return invalid("empty; expected e.g. 30s, 5m, 1h30m, 1d or 90 (seconds)");
  constexpr int64_t kMaxSeconds = int64_t{86400} * kMaxEveryDays;
  constexpr std::string_view kUnits = "smhdw";
  constexpr std::array<int64_t, 5> kUnitSeconds = {1, 60, 3600, 86400, 7 * 86400};
  int64_t total = 0;
  bool seen[5] = {};
  size_t i = 0;
  while (i < trimmed.size()) {
    size_t j = i;
    while (j < trimmed.size() && absl::ascii_isdigit(static_cast<unsigned char>(trimmed[j]))) ++j;
    if (j == i) {
      return invalid(absl::StrFormat("expected a number at '%s'", trimmed.substr(i)));
    }
    const absl::string_view digits = trimmed.substr(i, j - i);
    int64_t n = 0;
    for (char ch : digits.substr(0, 12)) n = n * 10 + (ch - '0');
    if (digits.size() > 12) n = kMaxSeconds + 1;
    int64_t unit = 1;
    if (j < trimmed.size()) {
      const size_t u = kUnits.find(trimmed[j]);
      if (u == std::string_view::npos) {
        return invalid(absl::StrFormat(
            "unknown unit '%c' (units: s m h d w; months and years vary in length, use cron)",
            trimmed[j]));
      }
      if (seen[u]) return invalid(absl::StrFormat("unit '%c' given twice", trimmed[j]));
      seen[u] = true;
      unit = kUnitSeconds[u];
      ++j;
    } else if (i != 0) {
      return invalid(absl::StrFormat("number %s has no unit", digits));
    }
    if (n > kMaxSeconds / unit || total + n * unit > kMaxSeconds) {
      return invalid(absl::StrFormat("longer than %d days", kMaxEveryDays));
    }
    total += n * unit;
    i = j;
  }
  if (total == 0) return invalid("must be longer than zero");
  return absl::Seconds(total);
}

}  // namespace resque
