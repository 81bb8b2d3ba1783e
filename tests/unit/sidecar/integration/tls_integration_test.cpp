// The real turbine-autoscaler binary against the fake API server over HTTPS (a CA and server
// certificate made for the test): kubeconfig with certificate-authority, -data, a wrong CA
// and insecure-skip-tls-verify; in-cluster mode from a service-account directory
// (TURBINE_SERVICE_ACCOUNT_DIR) and $KUBERNETES_SERVICE_HOST/PORT; and a service-account
// token rotated mid-run while the API server accepts only the current one. Waits poll for an
// effect with generous timeouts, never for a fixed time.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "fake_cluster.h"
#include "sidecar_process.h"
#include "test_pki.h"

namespace turbine::autoscaler::testing {
namespace {

class TlsIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    pods_ = std::make_unique<FakePods>(2);
    std::lock_guard<std::mutex> l(kube_.mu);
    for (int i = 0; i < pods_->size(); ++i)
      kube_.endpoints.emplace_back(pods_->ip(i), pods_->name(i));
  }

  // A kubeconfig whose cluster has `cluster_fields` (YAML flow entries after the server).
  std::string kubeconfig(const std::string& cluster_fields) {
    return dir_.write("kubeconfig",
                      "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
                      "clusters:\n- name: fake\n  cluster: {server: \"" +
                          kube_.url() + "\", " + cluster_fields +
                          "}\n"
                          "contexts:\n- name: test\n"
                          "  context: {cluster: fake, user: robot, namespace: llm}\n"
                          "users:\n- name: robot\n  user: {token: test-token}\n");
  }

  // Starts the sidecar with the integration tests' shrunk timings; `access` says how it
  // reaches the API server (--kubeconfig F, or nothing for in-cluster).
  std::unique_ptr<SidecarProcess> start(std::vector<std::string> access,
                                        const std::vector<std::string>& env = {}) {
    port_ = free_port();
    std::vector<std::string> args = {"run",
                                     "--deployment",
                                     FakeKube::kDeployment,
                                     "--service",
                                     FakeKube::kService,
                                     "--metrics-port",
                                     std::to_string(pods_->port()),
                                     "--identity",
                                     "pod-a",
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port_)};
    for (auto& a : fast_timing_args()) args.push_back(a);
    args.insert(args.end(), access.begin(), access.end());
    auto p = std::make_unique<SidecarProcess>(args, dir_.path() + "/sidecar.log", env);
    EXPECT_TRUE(eventually([&] { return sidecar_metrics(port_).has_value() || !p->running(); }))
        << p->log();
    EXPECT_TRUE(p->running()) << p->log();
    return p;
  }

  double m(const std::string& name, const std::string& key = "", const std::string& value = "") {
    auto t = sidecar_metrics(port_);
    return t ? metric(*t, name, key, value) : -1;
  }

  // Two pods at 12 waiting each against a target of 4: ratio 3, so 2 -> 6 replicas.
  void expect_scaled_to_6(SidecarProcess& p) {
    pods_->set_all(12, 0.5);
    ASSERT_TRUE(eventually([&] { return !kube_.scale_writes().empty(); })) << p.log();
    EXPECT_EQ(kube_.scale_writes()[0].replicas, 6);
    EXPECT_EQ(kube_.lease_holder(), "pod-a");
  }

  // The service-account directory of a pod: token, ca.crt, namespace.
  std::string service_account(const std::string& token) {
    std::string sa = dir_.path() + "/serviceaccount";
    ::mkdir(sa.c_str(), 0755);
    std::ofstream(sa + "/token") << token;
    std::ofstream(sa + "/ca.crt") << slurp(pki_.ca_cert);
    std::ofstream(sa + "/namespace") << "llm";
    return sa;
  }

  std::vector<std::string> in_cluster_env(const std::string& sa) {
    return {"KUBERNETES_SERVICE_HOST=127.0.0.1",
            "KUBERNETES_SERVICE_PORT=" + std::to_string(kube_.port()),
            "TURBINE_SERVICE_ACCOUNT_DIR=" + sa};
  }

  TempDir dir_;
  TestPki pki_ = make_test_pki(dir_.path());
  FakeKube kube_{ServerTls{pki_.server_cert, pki_.server_key}};
  std::unique_ptr<FakePods> pods_;
  int port_ = 0;
};

TEST_F(TlsIntegration, KubeconfigCertificateAuthorityFile) {
  // A relative path is relative to the kubeconfig's directory (where the test put ca.crt).
  auto p = start({"--kubeconfig", kubeconfig("certificate-authority: ca.crt")});
  expect_scaled_to_6(*p);
  EXPECT_EQ(m("turbine_autoscaler_leader"), 1);
}

TEST_F(TlsIntegration, KubeconfigCertificateAuthorityData) {
  std::string data = base64_encode(slurp(pki_.ca_cert));
  auto p = start({"--kubeconfig", kubeconfig("certificate-authority-data: " + data)});
  expect_scaled_to_6(*p);
}

TEST_F(TlsIntegration, KubeconfigInsecureSkipTlsVerify) {
  auto p = start({"--kubeconfig", kubeconfig("insecure-skip-tls-verify: true")});
  expect_scaled_to_6(*p);
}

TEST_F(TlsIntegration, AWrongCaFailsClearlyAndNeverScales) {
  pods_->set_all(12, 0.5);  // load that would scale up at once if the sidecar got through
  std::string data = base64_encode(slurp(pki_.other_ca_cert));
  auto p = start({"--kubeconfig", kubeconfig("certificate-authority-data: " + data)},
                 // a system store that trusts the server must not rescue a wrong kubeconfig CA
                 {"SSL_CERT_FILE=" + pki_.ca_cert});
  // Proof that it kept trying: several failed Lease rounds.
  ASSERT_TRUE(eventually([&] {
    return m("turbine_autoscaler_api_errors_total", "op", "get_lease") >= 3;
  })) << p->log();
  EXPECT_TRUE(p->running()) << p->log();
  EXPECT_TRUE(kube_.scale_writes().empty());
  EXPECT_EQ(kube_.lease_holder(), "");  // not one request got through
  EXPECT_EQ(m("turbine_autoscaler_leader"), 0);
  std::string log = p->log();
  EXPECT_NE(log.find("lease_error"), std::string::npos) << log;
  EXPECT_NE(log.find("TLS"), std::string::npos) << log;
  EXPECT_NE(log.find("certificate-authority-data"), std::string::npos) << log;
}

TEST_F(TlsIntegration, InClusterServiceAccount) {
  std::string sa = service_account("sa-token\n");
  {
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.required_token = "sa-token";
  }
  // No --namespace: it comes from the service account's namespace file.
  auto p = start({}, in_cluster_env(sa));
  expect_scaled_to_6(*p);
  EXPECT_EQ(kube_.last_bearer_token(), "sa-token");
  EXPECT_EQ(kube_.unauthorized_count(), 0);
  EXPECT_NE(p->log().find("https://127.0.0.1:" + std::to_string(kube_.port())), std::string::npos)
      << p->log();
}

TEST_F(TlsIntegration, InClusterWithAnotherCaFailsClearly) {
  std::string sa = service_account("sa-token");
  std::ofstream(sa + "/ca.crt") << slurp(pki_.other_ca_cert);
  pods_->set_all(12, 0.5);
  auto p = start({}, in_cluster_env(sa));
  ASSERT_TRUE(eventually([&] {
    return m("turbine_autoscaler_api_errors_total", "op", "get_lease") >= 3;
  })) << p->log();
  EXPECT_TRUE(kube_.scale_writes().empty());
  EXPECT_NE(p->log().find(sa + "/ca.crt"), std::string::npos) << p->log();
}

TEST_F(TlsIntegration, ARotatedServiceAccountTokenIsPickedUpAndScalingContinues) {
  std::string sa = service_account("token-one");
  {
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.required_token = "token-one";
  }
  auto p = start({}, in_cluster_env(sa));
  expect_scaled_to_6(*p);

  // Rotate as the kubelet does (a new file renamed into place), and from now on the API
  // server takes only the new token.
  {
    std::ofstream(sa + "/token.new") << "token-two";
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.required_token = "token-two";
    ASSERT_EQ(::rename((sa + "/token.new").c_str(), (sa + "/token").c_str()), 0);
  }
  // Someone scales the Deployment back by hand: only an authenticated sidecar can undo it.
  {
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.replicas = 2;
  }
  ASSERT_TRUE(eventually([&] { return kube_.scale_writes().size() >= 2; })) << p->log();
  EXPECT_EQ(kube_.scale_writes()[1].replicas, 6);
  EXPECT_EQ(kube_.last_bearer_token(), "token-two");
  // Once seen, the new token is all it sends: lease renewals keep succeeding with it.
  int base = kube_.lease_call_count();
  ASSERT_TRUE(eventually([&] { return kube_.lease_call_count() >= base + 5; })) << p->log();
  EXPECT_EQ(kube_.last_bearer_token(), "token-two");
  EXPECT_EQ(m("turbine_autoscaler_leader"), 1);
  std::lock_guard<std::mutex> l(kube_.mu);
  EXPECT_EQ(kube_.accepted_tokens, (std::vector<std::string>{"token-one", "token-two"}));
}

}  // namespace
}  // namespace turbine::autoscaler::testing
