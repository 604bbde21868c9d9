// rediss:// against real redis-servers serving TLS with certificates made here by `openssl`
// (make_certs.sh): jobs flow through the backend and through the `resque` command; a wrong CA,
// an expired certificate and a wrong host name each fail with one clear error; a server asking
// for a client certificate gets one; nothing falls back to plaintext.
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "backends/redis/redis_backend.h"
#include "core/backend.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"
#include "tests/support/subprocess.h"

namespace resque::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// One redis-server with a plaintext port (for the fixture's own PING) and a TLS port serving
// `cert`, signed by the test CA.
struct TlsServer {
  RedisServer server;
  int tls_port = 0;
};

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::signal(SIGPIPE, SIG_IGN);
    char dir_template[] = "/tmp/resque-tls-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    certs_ = new std::string(dir_template);
    const std::string make = absl::StrCat(RESQUE_TEST_DIR, "/make_certs.sh ", *certs_, " 2>&1");
    ASSERT_EQ(std::system(make.c_str()), 0) << "make_certs.sh failed";
  }
  static void TearDownTestSuite() {
    if (certs_ == nullptr) return;
    std::system(absl::StrCat("rm -rf ", *certs_).c_str());
    delete certs_;
    certs_ = nullptr;
  }

  static std::string Cert(const std::string& name) { return *certs_ + "/" + name; }

  // Starts a server whose TLS port presents `name`.crt; `clients`: tls-auth-clients.
  static std::unique_ptr<TlsServer> Serve(const std::string& name, const std::string& clients) {
    auto s = std::make_unique<TlsServer>();
    absl::StatusOr<int> port = FreeLoopbackPort();
    EXPECT_TRUE(port.ok());
    if (!port.ok()) return nullptr;
    s->tls_port = *port;
    s->server.set_extra_args({"--tls-port", absl::StrFormat("%d", *port), "--tls-cert-file",
                              Cert(name + ".crt"), "--tls-key-file", Cert(name + ".key"),
                              "--tls-ca-cert-file", Cert("ca.crt"), "--tls-auth-clients", clients});
    absl::Status started = s->server.Start();
    EXPECT_TRUE(started.ok()) << started;
    if (!started.ok()) return nullptr;
    return s;
  }

  static std::string Url(int port, const std::string& query) {
    return absl::StrFormat("rediss://127.0.0.1:%d/0?%s", port, query);
  }

  static absl::StatusOr<std::unique_ptr<Backend>> Open(const std::string& url) {
    absl::StatusOr<redis::RedisOptions> options = redis::ParseRedisUrl(url);
    if (!options.ok()) return options.status();
    options->connect_timeout = absl::Seconds(2);
    return redis::NewRedisBackend(*options);
  }

  static std::string* certs_;
};

std::string* TlsTest::certs_ = nullptr;

TEST_F(TlsTest, JobsFlowOverTlsThroughTheBackend) {
  std::unique_ptr<TlsServer> s = Serve("server", "no");
  ASSERT_NE(s, nullptr);
  absl::StatusOr<std::unique_ptr<Backend>> b = Open(Url(s->tls_port, "tls_ca=" + Cert("ca.crt")));
  ASSERT_TRUE(b.ok()) << b.status();
  // Enough bytes that a write and a read each take several TLS records.
  const std::string big =
      absl::StrCat("{\"class\":\"Big\",\"args\":[\"", std::string(100000, 'x'), "\"]}");
  ASSERT_TRUE((*b)->Push("mail", "{\"class\":\"Mail\",\"args\":[1]}").ok());
  ASSERT_TRUE((*b)->Push("mail", big).ok());
  EXPECT_EQ(*(*b)->Size("mail"), 2);
  const std::vector<std::string> mail = {"mail"};
  const std::vector<std::string> late = {"late"};
  absl::StatusOr<ReservedJobs> jobs =
      (*b)->Reserve({.queues = mail, .wait = absl::Seconds(1), .max = 1});
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].payload, "{\"class\":\"Mail\",\"args\":[1]}");
  jobs = (*b)->Reserve({.queues = mail, .wait = absl::Seconds(1), .max = 1});
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].payload, big);
  // A blocking reserve over TLS that a push from another connection ends.
  std::unique_ptr<Backend> other = (*b)->OpenSession();
  ASSERT_TRUE(other->Push("late", "{\"class\":\"Late\",\"args\":[]}").ok());
  jobs = (*b)->Reserve({.queues = late, .wait = absl::Seconds(2), .max = 1});
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->size(), 1u);
  // The plaintext port of the same server saw it all: it is one server.
  EXPECT_EQ(*s->server.Command({"LLEN", "resque:queue:mail"}), "0");
}

TEST_F(TlsTest, JobsFlowOverTlsThroughTheCommand) {
  std::unique_ptr<TlsServer> s = Serve("server", "no");
  ASSERT_NE(s, nullptr);
  const std::string url = Url(s->tls_port, "tls_ca=" + Cert("ca.crt"));
  const std::string out = *certs_ + "/out";
  const std::vector<std::string> env = {"RESQUE_TEST_OUT=" + out};
  RunResult enqueued = ::resque::testing::Run(
      {RESQUE_BINARY, "--redis", url, "enqueue", "mail", "Record", "[42]", "--track"}, env);
  ASSERT_EQ(enqueued.exit_code, 0) << enqueued.err;
  const std::string id(absl::StripTrailingAsciiWhitespace(enqueued.out));
  RunResult work = ::resque::testing::Run({RESQUE_BINARY, "--redis", url, "work", "--queue", "mail",
                                           "--burst", "--load", TEST_JOBS_LIBRARY},
                                          env);
  ASSERT_EQ(work.exit_code, 0) << work.err;
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "[42]\n");
  EXPECT_THAT(::resque::testing::Run({RESQUE_BINARY, "--redis", url, "status", id}).out,
              HasSubstr("4 (complete)"));
}

TEST_F(TlsTest, AServerSignedByAnotherCaIsRefused) {
  std::unique_ptr<TlsServer> s = Serve("server", "no");
  ASSERT_NE(s, nullptr);
  absl::StatusOr<std::unique_ptr<Backend>> b =
      Open(Url(s->tls_port, "tls_ca=" + Cert("other-ca.crt")));
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::IsUnauthenticated(b.status())) << b.status();
  EXPECT_THAT(std::string(b.status().message()),
              AllOf(HasSubstr("certificate is refused"), HasSubstr("certificate chain")));
  // The same through the command: one line, exit code not 0.
  RunResult r = ::resque::testing::Run(
      {RESQUE_BINARY, "--redis", Url(s->tls_port, "tls_ca=" + Cert("other-ca.crt")), "queues"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("certificate is refused"));
}

TEST_F(TlsTest, AnExpiredCertificateIsRefused) {
  std::unique_ptr<TlsServer> s = Serve("expired", "no");
  ASSERT_NE(s, nullptr);
  absl::StatusOr<std::unique_ptr<Backend>> b = Open(Url(s->tls_port, "tls_ca=" + Cert("ca.crt")));
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::IsUnauthenticated(b.status())) << b.status();
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("certificate has expired"));
}

TEST_F(TlsTest, ACertificateForAnotherHostIsRefusedUnlessThatNameIsAsked) {
  std::unique_ptr<TlsServer> s = Serve("wrong-host", "no");
  ASSERT_NE(s, nullptr);
  absl::StatusOr<std::unique_ptr<Backend>> b = Open(Url(s->tls_port, "tls_ca=" + Cert("ca.crt")));
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::IsUnauthenticated(b.status())) << b.status();
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("mismatch"));
  // tls_server_name: the name the certificate is checked against (and SNI) when the address
  // is not it.
  b = Open(Url(s->tls_port, "tls_ca=" + Cert("ca.crt") + "&tls_server_name=elsewhere.invalid"));
  EXPECT_TRUE(b.ok()) << b.status();
}

TEST_F(TlsTest, VerificationCanBeTurnedOffExplicitly) {
  std::unique_ptr<TlsServer> s = Serve("expired", "no");
  ASSERT_NE(s, nullptr);
  absl::StatusOr<std::unique_ptr<Backend>> b = Open(Url(s->tls_port, "tls_verify=no"));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE((*b)->Push("q", "{}").ok());
}

TEST_F(TlsTest, AClientCertificateIsPresentedWhenTheServerAsksForOne) {
  std::unique_ptr<TlsServer> s = Serve("server", "yes");
  ASSERT_NE(s, nullptr);
  // Without one, the server ends the session: an error, no data.
  absl::StatusOr<std::unique_ptr<Backend>> b = Open(Url(s->tls_port, "tls_ca=" + Cert("ca.crt")));
  EXPECT_FALSE(b.ok());
  b = Open(Url(s->tls_port, absl::StrCat("tls_ca=", Cert("ca.crt"), "&tls_cert=",
                                         Cert("client.crt"), "&tls_key=", Cert("client.key"))));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE((*b)->Push("q", "{}").ok());
}

TEST_F(TlsTest, NothingFallsBackToPlaintext) {
  std::unique_ptr<TlsServer> s = Serve("server", "no");
  ASSERT_NE(s, nullptr);
  // rediss:// to the plaintext port: the handshake fails; no command is sent in the clear.
  absl::StatusOr<std::unique_ptr<Backend>> b =
      Open(Url(s->server.port(), "tls_ca=" + Cert("ca.crt")));
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("TLS"));
  // redis:// to the TLS port: refused too.
  b = Open(absl::StrFormat("redis://127.0.0.1:%d", s->tls_port));
  EXPECT_FALSE(b.ok());
}

TEST_F(TlsTest, SettingsThatCannotBeLoadedSayWhich) {
  std::unique_ptr<TlsServer> s = Serve("server", "no");
  ASSERT_NE(s, nullptr);
  absl::StatusOr<std::unique_ptr<Backend>> b =
      Open(Url(s->tls_port, "tls_ca=" + *certs_ + "/absent.crt"));
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(b.status())) << b.status();
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("absent.crt"));
  b = Open(Url(s->tls_port, "tls_ca=" + Cert("ca.crt") + "&tls_cert=" + Cert("client.crt")));
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("needs its key"));
  b = Open(Url(s->tls_port, absl::StrCat("tls_ca=", Cert("ca.crt"), "&tls_cert=",
                                         Cert("client.crt"), "&tls_key=", Cert("server.key"))));
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(std::string(b.status().message()),
              AllOf(HasSubstr("server.key"), HasSubstr("mismatch")));
}

}  // namespace
}  // namespace resque::testing
