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
  for (const char* url : {"",
                          "http://h",
                          "redis://h:abc",
                          "redis://h:0",
                          "redis://h:70000",
                          "redis://h:",
                          "redis://h/x",
                          "redis://h/-1",
                          "redis://",
                          "redis://:pw@",
                          "unix://rel/path",
                          "unix://",
                          "redis://h?foo=1",
                          "redis://[::1",
                          "redis://h?db=x",
                          "redis://:a%zz@h",
                          "redis://:a%4@h",
                          ":6379",
                          "redis://h?tls_ca=/ca.crt",
                          "rediss://h?tls_verify=maybe",
                          "rediss://h?tls_ca=",
                          "redis-sentinel://h:26379",
                          "redis-sentinel://h:26379/",
                          "redis-sentinel://h:x/m",
                          "redis-sentinel://h,/m",
                          "redis://h?sentinel_password=x",
                          "redis://h?wait_replicas=-1",
                          "redis://h?wait_timeout_ms=0",
                          "redis-sentinel://h/m/x",
                          "unix:///s?tls_ca=/ca.crt"}) {
    absl::StatusOr<RedisOptions> o = ParseRedisUrl(url);
    EXPECT_TRUE(absl::IsInvalidArgument(o.status())) << url << " -> " << o.status();
  }
}

TEST(ParseRedisUrl, ReadsTlsSettings) {
  absl::StatusOr<RedisOptions> o = ParseRedisUrl("rediss://:pw@127.0.0.1:6380/2");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->tls.enabled);
  EXPECT_TRUE(o->tls.verify);
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->db, 2);
  EXPECT_EQ(o->password, "pw");
  o = ParseRedisUrl(
      "rediss://h?tls_ca=/etc/ca%20dir/ca.crt&tls_ca_dir=/etc/ssl/certs&tls_cert=/c.crt&"
      "tls_key=/c.key&tls_server_name=redis.internal&tls_verify=no");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->tls.ca_file, "/etc/ca dir/ca.crt");
  EXPECT_EQ(o->tls.ca_dir, "/etc/ssl/certs");
  EXPECT_EQ(o->tls.cert_file, "/c.crt");
  EXPECT_EQ(o->tls.key_file, "/c.key");
  EXPECT_EQ(o->tls.server_name, "redis.internal");
  EXPECT_FALSE(o->tls.verify);
  o = ParseRedisUrl("redis://h");
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->tls.enabled);
}

TEST(ParseRedisUrl, ReadsSentinelUrls) {
  absl::StatusOr<RedisOptions> o =
      ParseRedisUrl("redis-sentinel://127.0.0.1:26379,127.0.0.1:26380,[::1]/mymaster?db=3");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->sentinels.size(), 3u);
  EXPECT_EQ(o->sentinels[0].host, "127.0.0.1");
  EXPECT_EQ(o->sentinels[0].port, 26379);
  EXPECT_EQ(o->sentinels[1].port, 26380);
  EXPECT_EQ(o->sentinels[2].host, "::1");
  EXPECT_EQ(o->sentinels[2].port, 26379);  // the sentinels' default port
  EXPECT_EQ(o->sentinel_master, "mymaster");
  EXPECT_EQ(o->db, 3);
  EXPECT_FALSE(o->tls.enabled);
  o = ParseRedisUrl(
      "rediss-sentinel://app:pw@s1:5000/main/4?sentinel_username=watch&sentinel_password=spw&"
      "tls_ca=/ca.crt");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->sentinel_master, "main");
  EXPECT_EQ(o->db, 4);
  EXPECT_EQ(o->username, "app");
  EXPECT_EQ(o->password, "pw");
  EXPECT_EQ(o->sentinel_username, "watch");
  EXPECT_EQ(o->sentinel_password, "spw");
  EXPECT_TRUE(o->tls.enabled);
  EXPECT_EQ(o->tls.ca_file, "/ca.crt");
  EXPECT_THAT(MaskedUrl("redis-sentinel://s1/m?sentinel_password=spw"), Not(HasSubstr("spw")));
}

TEST(ParseRedisUrl, ReadsReplicaAcknowledgement) {
  absl::StatusOr<RedisOptions> o = ParseRedisUrl("redis://h?wait_replicas=2&wait_timeout_ms=250");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->wait_replicas, 2);
  EXPECT_EQ(o->wait_timeout, absl::Milliseconds(250));
  o = ParseRedisUrl("redis://h");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->wait_replicas, 0);
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
  EXPECT_THAT(ParseRedisUrl("redis://h?tls_ca=/c").status().message(), HasSubstr("needs TLS"));
  EXPECT_THAT(ParseRedisUrl("redis-sentinel://h").status().message(),
              HasSubstr("names its master"));
  EXPECT_THAT(ParseRedisUrl("http://h").status().message(), HasSubstr("unknown scheme"));
}

}  // namespace
}  // namespace resque::redis
