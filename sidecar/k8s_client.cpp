#include "sidecar/k8s_client.h"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cctype>

namespace turbine::autoscaler {

K8sClient::K8sClient(ClusterConfig config, std::string user_agent,
                     std::chrono::milliseconds timeout)
    : cfg_(std::move(config)), user_agent_(std::move(user_agent)), timeout_(timeout) {
  token_ = cfg_.token;
}

std::string K8sClient::bearer_token() {
  std::lock_guard<std::mutex> lock(token_mu_);
  if (cfg_.token_file.empty()) return token_;
  struct stat st {};
  if (stat(cfg_.token_file.c_str(), &st) != 0) return token_;  // keep the last good one
  if (st.st_mtim.tv_sec != token_mtime_.tv_sec || st.st_mtim.tv_nsec != token_mtime_.tv_nsec ||
      st.st_size != token_size_) {
    if (auto t = read_file(cfg_.token_file)) {
      std::string s = *t;
      while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
      token_ = s;
      token_mtime_ = st.st_mtim;
      token_size_ = st.st_size;
    }
  }
  return token_;
}

static X509_STORE* store_from_pem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) return nullptr;
  X509_STORE* store = X509_STORE_new();
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (X509_STORE_add_cert(store, cert) == 1) ++added;
    X509_free(cert);
  }
  ERR_clear_error();  // the loop ends on a "no start line" error by design
  BIO_free(bio);
  if (added == 0) {
    X509_STORE_free(store);
    return nullptr;
  }
  return store;
}

Result<ApiResponse> K8sClient::request(const std::string& method, const std::string& path,
                                       const std::string& body) {
  httplib::Client cli(cfg_.server);
  if (!cli.is_valid()) return Error{"invalid API server address " + cfg_.server};
  auto secs = std::chrono::duration_cast<std::chrono::microseconds>(timeout_);
  cli.set_connection_timeout(secs);
  cli.set_read_timeout(secs);
  cli.set_write_timeout(secs);
  if (cfg_.server.rfind("https://", 0) == 0) {
    if (cfg_.insecure) {
      cli.enable_server_certificate_verification(false);
    } else if (!cfg_.ca_pem.empty()) {
      X509_STORE* store = store_from_pem(cfg_.ca_pem);
      if (!store) return Error{"certificate-authority-data holds no PEM certificate"};
      cli.set_ca_cert_store(store);  // owned by the client's SSL context from here
    } else if (!cfg_.ca_file.empty()) {
      cli.set_ca_cert_path(cfg_.ca_file);
    }
  }
  httplib::Headers headers = {{"Accept", "application/json"}, {"User-Agent", user_agent_}};
  std::string token = bearer_token();
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);

  const char* json = "application/json";
  auto res = [&]() -> httplib::Result {
    if (method == "GET") return cli.Get(path.c_str(), headers);
    if (method == "PUT") return cli.Put(path.c_str(), headers, body, json);
    if (method == "POST") return cli.Post(path.c_str(), headers, body, json);
    if (method == "PATCH") {
      return cli.Patch(path.c_str(), headers, body, "application/merge-patch+json");
    }
    return cli.Delete(path.c_str(), headers);
  }();
  if (!res) {
    return Error{method + " " + path + ": " + httplib::to_string(res.error())};
  }
  return ApiResponse{res->status, res->body};
}

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace turbine::autoscaler
