// Where the Kubernetes API is and how to authenticate: from the pod's service account
// (in-cluster) or from a kubeconfig file (local use). Only bearer tokens are supported
// (what a service account has and what `kubectl create token` prints); client
// certificates are not.
#pragma once
#include <map>
#include <string>

#include "base/result.h"

namespace turbine::autoscaler {

struct ClusterConfig {
  std::string server;          // scheme://host:port
  std::string ca_file;         // PEM file to verify the server with, or
  std::string ca_pem;          // PEM bytes (certificate-authority-data)
  bool insecure = false;       // insecure-skip-tls-verify
  std::string token;           // a fixed token, or
  std::string token_file;      // a file re-read when it changes (service-account tokens rotate)
  std::string namespace_name;  // the namespace the credentials point at ("" if none)
};

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// Where in-cluster mode reads the service account: $TURBINE_SERVICE_ACCOUNT_DIR when set and
// not empty (tests; a token projected to another path), else kServiceAccountDir.
std::string service_account_dir();

// In-cluster: $KUBERNETES_SERVICE_HOST/PORT, <dir>/{token,ca.crt,namespace}. `env` stands
// in for the environment in tests (empty map: read the real one).
Result<ClusterConfig> load_in_cluster(const std::string& dir = kServiceAccountDir,
                                      const std::map<std::string, std::string>& env = {});

// A kubeconfig's current context: cluster server, certificate-authority(-data),
// insecure-skip-tls-verify; user token or tokenFile; context namespace.
Result<ClusterConfig> load_kubeconfig(const std::string& path);

// Standard base64 (with or without padding); nullopt-like error on bad input.
Result<std::string> base64_decode(const std::string& in);

Result<std::string> read_file(const std::string& path);

}  // namespace turbine::autoscaler
