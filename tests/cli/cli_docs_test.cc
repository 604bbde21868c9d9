// Issue 13's acceptance: docs/cli.md names every command, flag, environment variable and exit
// code that `resque --help` and `resque CMD --help` print, each in its command's section (the
// part before the first "## " for resque's own). A flag or variable counts when it is in
// backticks there (`--queue`, `QUEUE`); an exit code when a table row starts with it (| `3` |).
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"

namespace resque::testing {
namespace {

using ::testing::Contains;
using ::testing::IsEmpty;

// What one --help prints.
struct Help {
  std::vector<std::string> flags, variables, exit_codes, commands;
};

Help ParseHelp(const std::string& text) {
  static const std::regex kFlag(R"(^  (-[^ ]+))");
  static const std::regex kEnv(R"(\(Env:([^)]*)\))");
  static const std::regex kCommand(R"(^  ([a-z][\w-]*) )");
  static const std::regex kExit(R"(^  (\d+)  )");
  Help help;
  std::string part;  // "Options:", "Subcommands:", "Exit codes:", ...
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(text, '\n'))) {
    if (!line.empty() && line[0] != ' ') part = line;
    std::smatch m;
    if (part == "Options:" && std::regex_search(line, m, kFlag)) {
      for (const std::string& flag : std::vector<std::string>(absl::StrSplit(m[1].str(), ',')))
        help.flags.push_back(flag);
    }
    if (part == "Options:" && std::regex_search(line, m, kEnv)) {
      for (const std::string& var : std::vector<std::string>(absl::StrSplit(m[1].str(), ", ")))
        help.variables.push_back(var);
    }
    if (part == "Subcommands:" && std::regex_search(line, m, kCommand)) {
      help.commands.push_back(m[1]);
    }
    if (part == "Exit codes:" && std::regex_search(line, m, kExit)) {
      help.exit_codes.push_back(m[1]);
    }
  }
  return help;
}

// Each "## a, b" section's text under each of its names; "" is the part before the first.
// Fenced code blocks (a synopsis) are left out: a flag is documented in a table or in prose.
std::map<std::string, std::string> Sections(const std::string& doc) {
  std::map<std::string, std::string> sections;
  std::vector<std::string> names = {""};
  bool fenced = false;
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(doc, '\n'))) {
    if (absl::StartsWith(line, "```")) fenced = !fenced;
    if (fenced || absl::StartsWith(line, "```")) continue;
    if (absl::StartsWith(line, "## ")) {
      names = absl::StrSplit(line.substr(3), ", ");
      for (const std::string& name : names) sections[name];
      continue;
    }
    for (const std::string& name : names) absl::StrAppend(&sections[name], line, "\n");
  }
  return sections;
}

// The words in backticks in `text`: "`-q, --queue`" gives -q and --queue.
std::set<std::string> CodeWords(const std::string& text) {
  static const std::regex kCode("`([^`]*)`");
  static const std::regex kWord(R"(-{0,2}[A-Za-z0-9_][A-Za-z0-9_-]*)");
  std::set<std::string> words;
  for (auto code = std::sregex_iterator(text.begin(), text.end(), kCode);
       code != std::sregex_iterator(); ++code) {
    const std::string span = (*code)[1];
    for (auto w = std::sregex_iterator(span.begin(), span.end(), kWord);
         w != std::sregex_iterator(); ++w) {
      words.insert(w->str());
    }
  }
  return words;
}

// The exit codes a table lists: rows that start with | `N` |.
std::set<std::string> ExitCodeRows(const std::string& text) {
  static const std::regex kRow(R"((^|\n)\| `(\d+)` \|)");
  std::set<std::string> codes;
  for (auto m = std::sregex_iterator(text.begin(), text.end(), kRow); m != std::sregex_iterator();
       ++m) {
    codes.insert((*m)[2]);
  }
  return codes;
}

std::string HelpOf(const std::vector<std::string>& command) {
  std::vector<std::string> argv = {RESQUE_BINARY};
  argv.insert(argv.end(), command.begin(), command.end());
  argv.push_back("--help");
  RunResult r = Run(argv);
  EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(argv, " ") << ": " << r.err;
  return r.out;
}

// What `doc` lacks of what --help prints, one line each ("work: flag --queue").
std::vector<std::string> Missing(const std::string& doc) {
  const std::map<std::string, std::string> sections = Sections(doc);
  std::vector<std::string> missing;
  auto check = [&](const std::string& command, const Help& help) {
    const std::string name = command.empty() ? "resque" : command;
    auto section = sections.find(command);
    if (section == sections.end()) {
      missing.push_back(name + ": no section");
      return;
    }
    const std::set<std::string> words = CodeWords(section->second);
    const std::set<std::string> codes = ExitCodeRows(section->second);
    for (const std::string& flag : help.flags) {
      // Every command's -h, --help is documented once, with resque's own flags.
      if (!command.empty() && (flag == "-h" || flag == "--help")) continue;
      if (!words.contains(flag)) missing.push_back(absl::StrCat(name, ": flag ", flag));
    }
    for (const std::string& var : help.variables) {
      if (!words.contains(var)) missing.push_back(absl::StrCat(name, ": variable ", var));
    }
    for (const std::string& code : help.exit_codes) {
      if (!codes.contains(code)) missing.push_back(absl::StrCat(name, ": exit code ", code));
    }
  };
  const Help resque = ParseHelp(HelpOf({}));
  EXPECT_GE(resque.commands.size(), 10u);
  check("", resque);
  for (const std::string& command : resque.commands) {
    const Help help = ParseHelp(HelpOf({command}));
    EXPECT_THAT(help.exit_codes, Contains("2")) << command << ": its usage error";
    check(command, help);
  }
  return missing;
}

std::string Doc() {
  std::ifstream in(CLI_DOC);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(text.str().empty()) << CLI_DOC;
  return text.str();
}

// `doc` without its lines that contain `text`.
std::string Without(const std::string& doc, const std::string& text) {
  std::string out;
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(doc, '\n'))) {
    if (!absl::StrContains(line, text)) absl::StrAppend(&out, line, "\n");
  }
  EXPECT_NE(out.size(), doc.size() + 1) << "no line holds " << text;
  return out;
}

TEST(CliDocsTest, TheDocNamesEveryCommandFlagVariableAndExitCodeThatHelpPrints) {
  EXPECT_THAT(Missing(Doc()), IsEmpty());
}

// The check can fail: each kind of omission is found, in the right command.
TEST(CliDocsTest, AnOmissionFromTheDocIsFound) {
  const std::string doc = Doc();
  EXPECT_THAT(Missing(Without(doc, "`--max-recoveries`")), Contains("work: flag --max-recoveries"));
  EXPECT_THAT(Missing(Without(doc, "`APP_INCLUDE`")), Contains("work: variable APP_INCLUDE"));
  EXPECT_THAT(Missing(Without(doc, "| `4` |")), Contains("status: exit code 4"));
  EXPECT_THAT(Missing(Without(doc, "## demo")), Contains("demo: no section"));
  EXPECT_THAT(Missing(Without(doc, "`--version`")), Contains("resque: flag --version"));
  EXPECT_THAT(Missing(Without(doc, "`LOGGING`")), Contains("resque: variable LOGGING"));
}

}  // namespace
}  // namespace resque::testing
