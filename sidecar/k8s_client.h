// A minimal REST client for the Kubernetes API: JSON in, status + body out. One HTTP
// connection per request keeps it thread-safe without locks around a socket (the leader
// elector and the controller call it concurrently) and survives API-server restarts;
// the request rate (a few per second) makes the extra TLS handshakes irrelevant.
#pragma once
#include <sys/stat.h>

#include <chrono>
#include <mutex>
#include <string>

#include "base/result.h"
#include "sidecar/k8s_config.h"

namespace turbine::autoscaler {

struct ApiResponse {
  int status = 0;
  std::string body;
  bool ok() const { return status >= 200 && status < 300; }
};

class K8sClient {
 public:
  K8sClient(ClusterConfig config, std::string user_agent,
            std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // A transport failure (refused, timed out, TLS) is an Error; any HTTP status is a
  // response for the caller to judge.
  Result<ApiResponse> request(const std::string& method, const std::string& path,
                              const std::string& body = {});
  Result<ApiResponse> get(const std::string& path) { return request("GET", path); }
  Result<ApiResponse> put(const std::string& path, const std::string& body) {
    return request("PUT", path, body);
  }
  Result<ApiResponse> post(const std::string& path, const std::string& body) {
    return request("POST", path, body);
  }

  const ClusterConfig& config() const { return cfg_; }

 private:
  // The token, re-read when the file changes (kubelet rotates projected service-account
  // tokens, about hourly, by renaming a new file into place; a stale one gets 401s), or
  // unconditionally with `force` (after a 401: an in-place rewrite of the same size within
  // one tick of a coarse file clock leaves inode, size and mtime as they were). An unreadable
  // or empty file keeps the last good token (a writer may be half-way).
  std::string bearer_token(bool force = false);

  // Why a request failed, in words an operator can act on (TLS failures name the CA used).
  std::string describe_failure(int error, long verify_result) const;

  ClusterConfig cfg_;
  std::string user_agent_;
  std::chrono::milliseconds timeout_;
  std::mutex token_mu_;
  std::string token_;
  struct stat token_stat_ {};
  bool token_stat_valid_ = false;
};

// Percent-encodes a query value (label selectors contain '=' and ',').
std::string url_encode(const std::string& s);

}  // namespace turbine::autoscaler
