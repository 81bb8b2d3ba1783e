// K8sClient against the fake API server over HTTPS, in process: which CA settings verify the
// server and which must not, what the errors say, and the service-account token re-read
// (projected tokens rotate: the client must follow the file, whatever way it is replaced).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "fake_cluster.h"
#include "sidecar/k8s_client.h"
#include "sidecar_process.h"
#include "test_pki.h"

namespace turbine::autoscaler::testing {
namespace {

// Any cheap GET: the fake answers 404 (no Lease yet), which is still an answer over TLS.
const char* kProbe = "/apis/coordination.k8s.io/v1/namespaces/llm/leases/probe";

class ClientTls : public ::testing::Test {
 protected:
  ClusterConfig config() {
    ClusterConfig c;
    c.server = kube_.url();
    c.token = "test-token";
    return c;
  }
  Result<ApiResponse> probe(const ClusterConfig& c) {
    K8sClient client(c, "test", std::chrono::seconds(5));
    return client.get(kProbe);
  }

  TempDir dir_;
  TestPki pki_ = make_test_pki(dir_.path());
  FakeKube kube_{ServerTls{pki_.server_cert, pki_.server_key}};
};

TEST_F(ClientTls, TheServerIsReallyHttps) {
  ASSERT_EQ(kube_.url().rfind("https://127.0.0.1:", 0), 0u);
  ClusterConfig c = config();
  c.server = "http://127.0.0.1:" + std::to_string(kube_.port());  // plain HTTP to a TLS port
  auto r = probe(c);
  EXPECT_TRUE(!r || r->status == 400) << (r ? r->body : r.error());
}

TEST_F(ClientTls, CaFileVerifiesTheServer) {
  ClusterConfig c = config();
  c.ca_file = pki_.ca_cert;
  auto r = probe(c);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(kube_.last_bearer_token(), "test-token");
}

TEST_F(ClientTls, CaDataVerifiesTheServer) {
  ClusterConfig c = config();
  c.ca_pem = slurp(pki_.ca_cert);
  auto r = probe(c);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 404);
}

TEST_F(ClientTls, AWrongCaFileIsATlsErrorThatSaysSo) {
  ClusterConfig c = config();
  c.ca_file = pki_.other_ca_cert;
  auto r = probe(c);
  ASSERT_FALSE(r) << "HTTP " << r->status;
  EXPECT_NE(r.error().find("TLS"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("certificate is not trusted"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find(pki_.other_ca_cert), std::string::npos) << r.error();
}

TEST_F(ClientTls, AWrongCaDataIsATlsErrorThatSaysSo) {
  ClusterConfig c = config();
  c.ca_pem = slurp(pki_.other_ca_cert);
  auto r = probe(c);
  ASSERT_FALSE(r) << "HTTP " << r->status;
  EXPECT_NE(r.error().find("TLS"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("certificate-authority-data"), std::string::npos) << r.error();
}

// The configured CA is the only trust anchor (as kubectl): the system store must not vouch
// for an API server the kubeconfig's CA did not sign. SSL_CERT_FILE stands in for a system
// store that happens to trust the server.
TEST_F(ClientTls, TheSystemStoreDoesNotWidenTheConfiguredCa) {
  ::setenv("SSL_CERT_FILE", pki_.ca_cert.c_str(), 1);
  ClusterConfig c = config();
  c.ca_pem = slurp(pki_.other_ca_cert);
  auto with_data = probe(c);
  c.ca_pem.clear();
  c.ca_file = pki_.other_ca_cert;
  auto with_file = probe(c);
  // Without any CA setting the system store is what there is: it is used.
  c.ca_file.clear();
  auto with_system = probe(c);
  ::unsetenv("SSL_CERT_FILE");
  EXPECT_FALSE(with_data) << "trusted a server the CA data did not sign";
  EXPECT_FALSE(with_file) << "trusted a server the CA file did not sign";
  ASSERT_TRUE(with_system) << with_system.error();
  EXPECT_EQ(with_system->status, 404);
}

TEST_F(ClientTls, AHostNameMismatchIsRejected) {
  FakeKube elsewhere(ServerTls{pki_.elsewhere_cert, pki_.elsewhere_key});
  ClusterConfig c = config();
  c.server = elsewhere.url();
  c.ca_file = pki_.ca_cert;
  auto r = probe(c);
  ASSERT_FALSE(r) << "accepted a certificate for elsewhere.example at 127.0.0.1";
  EXPECT_NE(r.error().find("TLS: the API server's certificate does not name the host"),
            std::string::npos)
      << r.error();
}

TEST_F(ClientTls, InsecureSkipTlsVerifyAcceptsAnyCertificate) {
  ClusterConfig c = config();
  c.insecure = true;
  auto r = probe(c);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 404);
  c.ca_file = pki_.other_ca_cert;  // ignored when verification is off
  r = probe(c);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 404);
}

TEST_F(ClientTls, AMissingCaFileIsAnError) {
  ClusterConfig c = config();
  c.ca_file = dir_.path() + "/absent.crt";
  auto r = probe(c);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cannot load CA certificates from CA file " + c.ca_file),
            std::string::npos)
      << r.error();
}

// ---- token rotation ------------------------------------------------------------------------

// Same inode and, for tokens of one length, the same size; and the old mtime put back, as a
// file clock coarser than the rewrite interval would leave it (kernels before 6.13 stamp files
// with the jiffy clock, 1-10 ms).
void write_in_place(const std::string& path, const std::string& text) {
  struct stat before {};
  bool had = ::stat(path.c_str(), &before) == 0;
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
  }
  if (had) {
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    ::utimensat(AT_FDCWD, path.c_str(), times, 0);
  }
}

// As the kubelet's atomic writer: token -> ..data/token, ..data -> a timestamped directory
// that a rename of the ..data symlink replaces.
void kubelet_swap(const std::string& dir, const std::string& text, int generation) {
  std::string gen = "..gen_" + std::to_string(generation);
  ASSERT_EQ(::mkdir((dir + "/" + gen).c_str(), 0755), 0);
  std::ofstream(dir + "/" + gen + "/token") << text;
  std::string tmp = dir + "/..data_tmp";
  ::unlink(tmp.c_str());
  ASSERT_EQ(::symlink(gen.c_str(), tmp.c_str()), 0);
  ASSERT_EQ(::rename(tmp.c_str(), (dir + "/..data").c_str()), 0);
  if (::access((dir + "/token").c_str(), F_OK) != 0) {
    ASSERT_EQ(::symlink("..data/token", (dir + "/token").c_str()), 0);
  }
}

TEST_F(ClientTls, ATokenFileRewrittenInPlaceIsFollowed) {
  // Same length every time and rewritten at once: size and (coarse) mtime may not change.
  std::string file = dir_.write("token", "token-0");
  ClusterConfig c = config();
  c.token.clear();
  c.token_file = file;
  c.ca_file = pki_.ca_cert;
  K8sClient client(c, "test", std::chrono::seconds(5));
  for (int i = 0; i < 6; ++i) {
    std::string token = "token-" + std::to_string(i);
    if (i > 0) write_in_place(file, token + "\n");
    {
      std::lock_guard<std::mutex> l(kube_.mu);
      kube_.required_token = token;
    }
    auto r = client.get(kProbe);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, 404) << "rotation " << i << ": " << r->body;
    EXPECT_EQ(kube_.last_bearer_token(), token);
  }
}

TEST_F(ClientTls, ATokenSwappedLikeTheKubeletDoesIsFollowed) {
  std::string sa = dir_.path() + "/sa";
  ASSERT_EQ(::mkdir(sa.c_str(), 0755), 0);
  kubelet_swap(sa, "jwt-one", 1);
  ClusterConfig c = config();
  c.token.clear();
  c.token_file = sa + "/token";
  c.ca_file = pki_.ca_cert;
  K8sClient client(c, "test", std::chrono::seconds(5));
  {
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.required_token = "jwt-one";
  }
  auto r = client.get(kProbe);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 404);
  kubelet_swap(sa, "jwt-two", 2);
  {
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.required_token = "jwt-two";
  }
  r = client.get(kProbe);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 404) << r->body;
  EXPECT_EQ(kube_.last_bearer_token(), "jwt-two");
}

TEST_F(ClientTls, AVanishedTokenFileKeepsTheLastGoodToken) {
  std::string file = dir_.write("token", "kept\n");
  ClusterConfig c = config();
  c.token.clear();
  c.token_file = file;
  c.ca_file = pki_.ca_cert;
  K8sClient client(c, "test", std::chrono::seconds(5));
  ASSERT_TRUE(client.get(kProbe));
  ASSERT_EQ(::unlink(file.c_str()), 0);
  auto r = client.get(kProbe);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(kube_.last_bearer_token(), "kept");
  write_in_place(file, "\n");  // an empty token (a half-written file) is not a token either
  r = client.get(kProbe);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(kube_.last_bearer_token(), "kept");
}

}  // namespace
}  // namespace turbine::autoscaler::testing
