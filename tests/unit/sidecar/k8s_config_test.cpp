// Where the Kubernetes API is: kubeconfig files (local use) and the in-cluster service
// account (token re-read on rotation).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "sidecar/k8s_client.h"
#include "sidecar/k8s_config.h"
#include "temp_dir.h"

namespace turbine::autoscaler {
namespace {


using testing::TempDir;

const char* kCaPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

TEST(Base64, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(*base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(*base64_decode("aGVsbG8"), "hello");
  EXPECT_EQ(*base64_decode("aGVs\nbG8h"), "hello!");
  EXPECT_EQ(*base64_decode(""), "");
  EXPECT_FALSE(base64_decode("not*base64").ok());
}

TEST(Kubeconfig, CurrentContextWithTokenAndCaData) {
  TempDir d;
  std::string ca_b64 =
      "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";
  std::string path = d.write("config", R"(apiVersion: v1
kind: Config
current-context: prod
clusters:
  - name: dev
    cluster: {server: "https://dev.example:6443"}
  - name: prod-cluster
    cluster:
      server: https://prod.example:6443/
      certificate-authority-data: )" + ca_b64 +
                                           R"(
contexts:
  - name: dev
    context: {cluster: dev, user: dev}
  - name: prod
    context: {cluster: prod-cluster, user: robot, namespace: llm}
users:
  - name: robot
    user: {token: abc.def}
)");
  auto c = load_kubeconfig(path);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->server, "https://prod.example:6443");  // trailing slash dropped
  EXPECT_EQ(c->ca_pem, kCaPem);
  EXPECT_TRUE(c->ca_file.empty());
  EXPECT_FALSE(c->insecure);
  EXPECT_EQ(c->token, "abc.def");
  EXPECT_EQ(c->namespace_name, "llm");
}

TEST(Kubeconfig, CaFileTokenFileInsecureAndRelativePaths) {
  TempDir d;
  std::string path = d.write("kc.yaml", R"(
current-context: c
clusters:
- name: k
  cluster:
    server: http://127.0.0.1:8080
    certificate-authority: certs/ca.crt
    insecure-skip-tls-verify: true
contexts:
- name: c
  context: {cluster: k, user: u}
users:
- name: u
  user: {tokenFile: /var/run/token}
)");
  auto c = load_kubeconfig(path);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->server, "http://127.0.0.1:8080");
  EXPECT_EQ(c->ca_file, d.path() + "/certs/ca.crt");
  EXPECT_TRUE(c->insecure);
  EXPECT_EQ(c->token_file, "/var/run/token");
  EXPECT_TRUE(c->token.empty());
  EXPECT_EQ(c->namespace_name, "");
}

TEST(Kubeconfig, SingleContextWithoutCurrentContext) {
  TempDir d;
  std::string path = d.write("kc", R"(
clusters: [{name: k, cluster: {server: "https://k:443"}}]
contexts: [{name: only, context: {cluster: k}}]
)");
  auto c = load_kubeconfig(path);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->server, "https://k:443");
}

TEST(Kubeconfig, ErrorsSayWhatIsWrong) {
  TempDir d;
  struct Case {
    const char* yaml;
    const char* message;
  } cases[] = {
      {"clusters: []\n", "no current-context"},
      {"current-context: x\ncontexts: []\n", "context 'x' not found"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n",
       "cluster 'k' has no server"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
       "clusters: [{name: k, cluster: {server: 'ftp://x'}}]\n",
       "server must start with https:// or http://"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
       "clusters: [{name: k, cluster: {server: 'https://x', certificate-authority-data: '*'}}]\n",
       "certificate-authority-data"},
      {"current-context: [unclosed\n", "kubeconfig"},
  };
  for (const auto& c : cases) {
    auto r = load_kubeconfig(d.write("bad", c.yaml));
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_NE(r.error().find(c.message), std::string::npos) << c.yaml << " -> " << r.error();
  }
  auto missing = load_kubeconfig(d.path() + "/absent");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("absent"), std::string::npos);
}

TEST(InCluster, ServiceAccountFiles) {
  TempDir d;
  d.write("token", "tok-1\n");
  d.write("ca.crt", kCaPem);
  d.write("namespace", "llm\n");
  auto c = load_in_cluster(
      d.path(), {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}});
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->server, "https://10.0.0.1:443");
  EXPECT_EQ(c->token_file, d.path() + "/token");
  EXPECT_EQ(c->ca_file, d.path() + "/ca.crt");
  EXPECT_EQ(c->namespace_name, "llm");

  auto v6 = load_in_cluster(
      d.path(), {{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}});
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");
}

TEST(InCluster, ServiceAccountDirDefaultsToTheMountAndCanBeMoved) {
  const char* saved = std::getenv("TURBINE_SERVICE_ACCOUNT_DIR");
  std::string keep = saved ? saved : "";
  ::unsetenv("TURBINE_SERVICE_ACCOUNT_DIR");
  EXPECT_EQ(service_account_dir(), "/var/run/secrets/kubernetes.io/serviceaccount");
  ::setenv("TURBINE_SERVICE_ACCOUNT_DIR", "", 1);
  EXPECT_EQ(service_account_dir(), kServiceAccountDir);
  ::setenv("TURBINE_SERVICE_ACCOUNT_DIR", "/projected/sa", 1);
  EXPECT_EQ(service_account_dir(), "/projected/sa");
  if (saved) {
    ::setenv("TURBINE_SERVICE_ACCOUNT_DIR", keep.c_str(), 1);
  } else {
    ::unsetenv("TURBINE_SERVICE_ACCOUNT_DIR");
  }
}

TEST(InCluster, ErrorsPointAtKubeconfig) {
  TempDir d;
  auto no_env = load_in_cluster(d.path(), {{"UNRELATED", "1"}});
  ASSERT_FALSE(no_env.ok());
  EXPECT_NE(no_env.error().find("--kubeconfig"), std::string::npos);
  auto no_token = load_in_cluster(
      d.path(), {{"KUBERNETES_SERVICE_HOST", "h"}, {"KUBERNETES_SERVICE_PORT", "1"}});
  ASSERT_FALSE(no_token.ok());
  EXPECT_NE(no_token.error().find("token"), std::string::npos);
}

TEST(UrlEncode, LabelSelectors) {
  EXPECT_EQ(url_encode("kubernetes.io/service-name=turbine"),
            "kubernetes.io%2Fservice-name%3Dturbine");
  EXPECT_EQ(url_encode("a=b,c=d"), "a%3Db%2Cc%3Dd");
}

}  // namespace
}  // namespace turbine::autoscaler
