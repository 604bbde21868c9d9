#include "core/json.h"

#include <string>

#include "gtest/gtest.h"

namespace resque::json {
namespace {

TEST(JsonQuote, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(Quote("a\"b\\c\nd\te\x01"), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
}

TEST(JsonQuote, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(Quote("h\xC3\xA9llo"), "\"h\xC3\xA9llo\"");
  EXPECT_EQ(Quote("a\xFF" "b"), "\"a\xEF\xBF\xBD" "b\"");
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

}  // namespace
}  // namespace resque::json
