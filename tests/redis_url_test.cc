// ParseRedisUrl: every accepted form, and errors that say what is wrong without the password.
#include <string>

#include "backends/redis/redis_backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace resque::redis {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ParseRedisUrl, ReadsHostPortAndDb) {
  absl::StatusOr<RedisOptions> o = ParseRedisUrl("redis://10.0.0.5:6380/2");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "10.0.0.5");
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->db, 2);
  EXPECT_EQ(o->password, "");
  EXPECT_EQ(o->unix_socket, "");
}

TEST(ParseRedisUrl, DefaultsPortAndDb) {
  absl::StatusOr<RedisOptions> o = ParseRedisUrl("redis://cache.internal");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "cache.internal");
  EXPECT_EQ(o->port, 6379);
  EXPECT_EQ(o->db, 0);
  o = ParseRedisUrl("redis://cache.internal/");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->db, 0);
}

TEST(ParseRedisUrl, ReadsPasswordWithoutUser) {
  absl::StatusOr<RedisOptions> o = ParseRedisUrl("redis://:s3cret@127.0.0.1:7000/1");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->username, "");
  EXPECT_EQ(o->password, "s3cret");
  EXPECT_EQ(o->port, 7000);
  EXPECT_EQ(o->db, 1);
}

TEST(ParseRedisUrl, ReadsUserAndPassword) {
  absl::StatusOr<RedisOptions> o = ParseRedisUrl("redis://app:s3cret@redis:6379/4");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->username, "app");
  EXPECT_EQ(o->password, "s3cret");
  EXPECT_EQ(o->host, "redis");
  EXPECT_EQ(o->db, 4);
}

TEST(ParseRedisUrl, ReadsLoneUserInfoAsPassword) {
  absl::StatusOr<RedisOptions> o = ParseRedisUrl("redis://s3cret@redis");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->username, "");
  EXPECT_EQ(o->password, "s3cret");
}

TEST(ParseRedisUrl, DecodesPercentEscapes) {
  absl::StatusOr<RedisOptions> o = ParseRedisUrl("redis://:p%40ss%3Aw%2Fd@h:1");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->password, "p@ss:w/d");
}

TEST(ParseRedisUrl, ReadsUnixSocketWithDbAndPassword) {
  absl::StatusOr<RedisOptions> o = ParseRedisUrl("unix:///var/run/redis.sock?db=3");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->unix_socket, "/var/run/redis.sock");
  EXPECT_EQ(o->db, 3);
  o = ParseRedisUrl("unix:///tmp/r.sock?password=pw&db=1");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->password, "pw");
  EXPECT_EQ(o->db, 1);
}

TEST(ParseRedisUrl, ReadsPhpResqueBareHostPort) {
  absl::StatusOr<RedisOptions> o = ParseRedisUrl("localhost:6380");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "localhost");
  EXPECT_EQ(o->port, 6380);
  o = ParseRedisUrl("redis-host");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "redis-host");
  EXPECT_EQ(o->port, 6379);
}

TEST(ParseRedisUrl, ReadsBracketedIpv6) {
  absl::StatusOr<RedisOptions> o = ParseRedisUrl("redis://[::1]:7001/5");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "::1");
  EXPECT_EQ(o->port, 7001);
  EXPECT_EQ(o->db, 5);
  o = ParseRedisUrl("[::1]");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "::1");
  EXPECT_EQ(o->port, 6379);
}

TEST(ParseRedisUrl, RefusesMalformedUrls) {
  for (const char* url :
       {"", "http://h", "rediss://h", "redis://h:abc", "redis://h:0", "redis://h:70000",
        "redis://h:", "redis://h/x", "redis://h/-1", "redis://", "redis://:pw@", "unix://rel/path",
        "unix://", "redis://h?foo=1", "redis://[::1", "redis://h?db=x", "redis://:a%zz@h",
        "redis://:a%4@h", ":6379"}) {
    absl::StatusOr<RedisOptions> o = ParseRedisUrl(url);
    EXPECT_TRUE(absl::IsInvalidArgument(o.status())) << url << " -> " << o.status();
  }
}

TEST(ParseRedisUrl, ErrorsNeverShowThePassword) {
  for (const char* url :
       {"redis://:hunter2@h:bad", "redis://app:hunter2@h/x", "redis://hunter2@h:0",
        "redis://:hunter2%zz@h", "unix:///s?password=hunter2&db=x", "redis://:hunter2@h?x=1",
        "redis://app:hunter2@[::1"}) {
    absl::StatusOr<RedisOptions> o = ParseRedisUrl(url);
    ASSERT_FALSE(o.ok()) << url;
    EXPECT_THAT(o.status().message(), Not(HasSubstr("hunter2"))) << url;
    EXPECT_THAT(o.status().message(), HasSubstr("****")) << url;
  }
}

// Issue 12: ":secret@127.0.0.1:6397", with no scheme, was echoed whole in the error.
TEST(ParseRedisUrl, ErrorsNeverShowAPasswordWrittenWithoutAScheme) {
  for (const char* url :
       {":hunter2@127.0.0.1:6397", "hunter2@127.0.0.1:6397", "app:hunter2@127.0.0.1",
        ":hunter2@h/0", "x://:hunter2@h", "hunter2@h://x"}) {
    absl::StatusOr<RedisOptions> o = ParseRedisUrl(url);
    ASSERT_FALSE(o.ok()) << url;
    EXPECT_TRUE(absl::IsInvalidArgument(o.status())) << url;
    EXPECT_THAT(o.status().message(), Not(HasSubstr("hunter2"))) << url;
  }
  EXPECT_THAT(ParseRedisUrl(":hunter2@127.0.0.1:6397").status().message(),
              HasSubstr("\":****@127.0.0.1:6397\": a password needs the redis:// form"));
}

// A password with an unescaped '/', '?', '&' or '@' cut where a parser would cut it showed its
// tail in the message (as a db, a port or a parameter); the user-info now ends at the last '@'.
TEST(ParseRedisUrl, ReadsUnescapedSlashAndQuestionMarkInAPassword) {
  absl::StatusOr<RedisOptions> o = ParseRedisUrl("redis://:pa/ss?w@h:7000/3");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->password, "pa/ss?w");
  EXPECT_EQ(o->host, "h");
  EXPECT_EQ(o->port, 7000);
  EXPECT_EQ(o->db, 3);
  o = ParseRedisUrl("redis://h/1?password=p@ss");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->password, "p@ss");
  EXPECT_EQ(o->host, "h");
  for (const char* url : {"redis://app:hun/ter2@h:x", "redis://h?password=hun&ter2",
                          "redis://h?db=1&password=hun&ter2&db=2", "redis://:hun@ter2@h:0"}) {
    o = ParseRedisUrl(url);
    ASSERT_FALSE(o.ok()) << url;
    EXPECT_THAT(o.status().message(), Not(HasSubstr("hun"))) << url;
    EXPECT_THAT(o.status().message(), Not(HasSubstr("ter2"))) << url;
  }
}

TEST(MaskedUrl, MasksThePasswordInEveryForm) {
  EXPECT_EQ(MaskedUrl("redis://:s3cret@h:1/2"), "redis://:****@h:1/2");
  EXPECT_EQ(MaskedUrl("redis://app:s3cret@h"), "redis://app:****@h");
  EXPECT_EQ(MaskedUrl("redis://s3cret@h"), "redis://****@h");
  EXPECT_EQ(MaskedUrl(":s3cret@127.0.0.1:6397"), ":****@127.0.0.1:6397");
  EXPECT_EQ(MaskedUrl("s3cret@127.0.0.1:6397"), "****@127.0.0.1:6397");
  EXPECT_EQ(MaskedUrl("unix:///s.sock?password=s3cret&db=1"), "unix:///s.sock?password=****");
  EXPECT_EQ(MaskedUrl("redis://h:1/2"), "redis://h:1/2");
  EXPECT_EQ(MaskedUrl("127.0.0.1:6397"), "127.0.0.1:6397");
}

TEST(ParseRedisUrl, ErrorsSayWhatIsWrong) {
  EXPECT_THAT(ParseRedisUrl("redis://h:abc").status().message(), HasSubstr("port \"abc\""));
  EXPECT_THAT(ParseRedisUrl("redis://h/x").status().message(), HasSubstr("db \"x\""));
  EXPECT_THAT(ParseRedisUrl("rediss://h").status().message(), HasSubstr("TLS"));
  EXPECT_THAT(ParseRedisUrl("http://h").status().message(), HasSubstr("unknown scheme"));
}

}  // namespace
}  // namespace resque::redis
