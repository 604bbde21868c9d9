#include "core/json.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace resque::json {
namespace {

TEST(JsonQuote, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(Quote("a\"b\\c\nd\te\x01"), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
}

TEST(JsonQuote, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(Quote("h\xC3\xA9llo"), "\"h\xC3\xA9llo\"");
  EXPECT_EQ(Quote("a\xFF"
                  "b"),
            "\"a\xEF\xBF\xBD"
            "b\"");
  EXPECT_EQ(Quote("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // surrogate
}

TEST(JsonQuote, OutputAlwaysValidates) {
  const std::string nasty = std::string("x\0y\x80\"\\\x7F", 7);
  EXPECT_TRUE(Validate(Quote(nasty)).ok());
}

TEST(JsonParseObject, ReturnsFieldsWithRawValuesInOrder) {
  auto fields = ParseObject(R"({"b": [1, 2] , "a":"x\"y","n":1.5,"o":{"k":null}})");
  ASSERT_TRUE(fields.ok()) << fields.status();
  ASSERT_EQ(fields->size(), 4u);
  EXPECT_EQ((*fields)[0].key, "b");
  EXPECT_EQ((*fields)[0].raw, "[1, 2]");
  EXPECT_EQ((*fields)[0].type, Type::kArray);
  EXPECT_EQ((*fields)[1].raw, R"("x\"y")");
  EXPECT_EQ((*fields)[2].raw, "1.5");
  EXPECT_EQ((*fields)[3].raw, R"({"k":null})");
  EXPECT_EQ(FindField(*fields, "o")->type, Type::kObject);
  EXPECT_EQ(FindField(*fields, "missing"), nullptr);
}

TEST(JsonParseObject, RejectsWhatIsNotOneValidObject) {
  for (const char* bad : {"", "[]", "\"s\"", "{", "{\"a\":1", "{\"a\":1}}", "{\"a\":tru}",
                          "{\"a\":[1,]}", "{\"a\":1} x", "{\"a\":\"\xFF\"}", "nul"}) {
    auto fields = ParseObject(bad);
    EXPECT_FALSE(fields.ok()) << "accepted: " << bad;
    if (!fields.ok()) {
      EXPECT_EQ(fields.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(JsonParseObject, RejectsADepthBombWithoutCrashing) {
  const std::string bomb = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_FALSE(ParseObject(bomb).ok());
}

TEST(JsonValidate, RejectsMalformedNumbersInsideDocumentsButNotBigIntegers) {
  for (const char* bad : {"[01]", "[1.]", "[-]", "[.5]", "{\"a\":1e}", "[1.5e+]", "[--1]"}) {
    EXPECT_FALSE(Validate(bad).ok()) << "accepted: " << bad;
  }
  EXPECT_TRUE(Validate("[123456789012345678901234567890, -0, 0.5e-3, 1E+2]").ok());
}

// A field's raw text is validated on its own (a payload's queue_time, a filter's args), so a
// number that is valid inside a document must be valid alone, and refused alone when it is not.
TEST(JsonValidate, JudgesATopLevelNumberAsItJudgesOneInsideADocument) {
  for (const char* number : {"1e400", "-1e400", " 1E-400 ", "123456789012345678901234567890"}) {
    EXPECT_TRUE(Validate(absl::StrCat("[", number, "]")).ok()) << number;
    const absl::StatusOr<Type> type = Validate(number);
    EXPECT_TRUE(type.ok() && *type == Type::kNumber) << number << ": " << type.status();
  }
  for (const char* bad : {"01", "1.", "-", "1e", "1 2", "1\f", "-01", "1.5e+"}) {
    EXPECT_FALSE(Validate(bad).ok()) << "accepted: " << bad;
    EXPECT_FALSE(Validate(absl::StrCat("[", bad, "]")).ok()) << "accepted inside: " << bad;
  }
  EXPECT_EQ(*Canonicalize(" 1e400\n"), "1e400");
}

TEST(JsonValidate, ReportsTheTypeOfScalars) {
  EXPECT_EQ(*Validate(" 12 "), Type::kNumber);
  EXPECT_EQ(*Validate("null"), Type::kNull);
  EXPECT_EQ(*Validate("true"), Type::kBool);
  EXPECT_EQ(*Validate("\"x\""), Type::kString);
  EXPECT_FALSE(Validate("nulls").ok());
}

TEST(JsonValues, ReadStringsIntegersAndDoubles) {
  EXPECT_EQ(*StringValue(R"("a\u00e9\n")"), "a\xC3\xA9\n");
  EXPECT_EQ(*IntValue("1700000000"), 1700000000);
  EXPECT_EQ(*IntValue("1700000000.9"), 1700000000);
  EXPECT_DOUBLE_EQ(*DoubleValue("1700000000.25"), 1700000000.25);
  EXPECT_FALSE(IntValue("\"x\"").ok());
  EXPECT_FALSE(IntValue("1e300").ok());
}

// One 16 MiB payload must not pin its parser's buffers (about its size again) in a worker thread
// for good, while the usual small payloads reuse them.
TEST(JsonParser, ReleasesTheBuffersOfALargeDocumentAfterUse) {
  ASSERT_TRUE(Validate("[1]").ok());
  const size_t small = ParserCapacityForTesting();
  EXPECT_GT(small, 0u);
  const std::string big = "[\"" + std::string(size_t{16} << 20, 'x') + "\"]";
  ASSERT_TRUE(Validate(big).ok());
  EXPECT_LE(ParserCapacityForTesting(), kKeptParserCapacity);
  ASSERT_TRUE(ParseObject("{\"args\":" + big + "}").ok());
  EXPECT_LE(ParserCapacityForTesting(), kKeptParserCapacity);
  ASSERT_TRUE(StringArray(big).ok());
  EXPECT_LE(ParserCapacityForTesting(), kKeptParserCapacity);
  ASSERT_TRUE(Canonicalize(big).ok());
  EXPECT_LE(ParserCapacityForTesting(), kKeptParserCapacity);
  ASSERT_TRUE(ParseObject(R"({"class":"A","args":[1,2]})").ok());
  EXPECT_GT(ParserCapacityForTesting(), 0u);
}

TEST(JsonCanonicalize, IgnoresWhitespaceKeyOrderAndEscapes) {
  const std::string a = *Canonicalize(R"( { "b" : [1, {"y":2,"x":"\u0041"}], "a":null } )");
  const std::string b = *Canonicalize(R"({"a":null,"b":[1,{"x":"A","y":2}]})");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, R"({"a":null,"b":[1,{"x":"A","y":2}]})");
}

TEST(JsonCanonicalize, WritesWholeNumbersAsIntegers) {
  EXPECT_EQ(*Canonicalize("[1, 1.0, 1e0, -0.0, 2.5, 1E2, 18446744073709551615]"),
            "[1,1,1,0,2.5,100,18446744073709551615]");
  EXPECT_EQ(*Canonicalize(" 10.50 "), "10.5");
}

TEST(JsonCanonicalize, KeepsArrayOrderAndScalarsAsThemselves) {
  EXPECT_NE(*Canonicalize("[1,2]"), *Canonicalize("[2,1]"));
  EXPECT_EQ(*Canonicalize(" true "), "true");
  EXPECT_EQ(*Canonicalize("null"), "null");
  EXPECT_EQ(*Canonicalize(R"("a\/b")"), R"("a/b")");
}

TEST(JsonCanonicalize, RejectsInvalidJson) {
  for (const char* bad : {"", "[1,", "{\"a\":1} x", "nul", "[01]"}) {
    auto canonical = Canonicalize(bad);
    EXPECT_FALSE(canonical.ok()) << "accepted: " << bad << " as " << *canonical;
    if (!canonical.ok()) {
      EXPECT_EQ(canonical.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(JsonCanonicalize, RejectsADepthBombWithoutCrashing) {
  EXPECT_FALSE(Canonicalize(std::string(100000, '[') + std::string(100000, ']')).ok());
}

}  // namespace
}  // namespace resque::json
