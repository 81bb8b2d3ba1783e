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

static bool same_file_state(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

std::string K8sClient::bearer_token(bool force) {
  std::lock_guard<std::mutex> lock(token_mu_);
  if (cfg_.token_file.empty()) return token_;
  struct stat st {};
  if (stat(cfg_.token_file.c_str(), &st) != 0) return token_;  // keep the last good one
  if (!force && token_stat_valid_ && same_file_state(st, token_stat_)) return token_;
  if (auto t = read_file(cfg_.token_file)) {
    std::string s = *t;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    if (!s.empty()) {
      token_ = s;
      token_stat_ = st;
      token_stat_valid_ = true;
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
  const char* json = "application/json";
  auto send = [&](const std::string& token) -> httplib::Result {
    httplib::Headers headers = {{"Accept", "application/json"}, {"User-Agent", user_agent_}};
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    if (method == "GET") return cli.Get(path.c_str(), headers);
    if (method == "PUT") return cli.Put(path.c_str(), headers, body, json);
    if (method == "POST") return cli.Post(path.c_str(), headers, body, json);
    if (method == "PATCH") {
      return cli.Patch(path.c_str(), headers, body, "application/merge-patch+json");
    }
    return cli.Delete(path.c_str(), headers);
  };
  std::string token = bearer_token();
  auto res = send(token);
  if (res && res->status == 401 && !cfg_.token_file.empty()) {
    // The server no longer takes this token: if the file holds another one by now, the
    // request (not processed: 401 comes before anything else) is worth one more try.
    std::string fresh = bearer_token(/*force=*/true);
    if (fresh != token) res = send(fresh);
  }
  if (!res) {
    long verify = X509_V_OK;
    if (res.error() == httplib::Error::SSLServerVerification) {
      verify = cli.get_openssl_verify_result();
    }
    return Error{method + " " + path + ": " +
                 describe_failure(static_cast<int>(res.error()), verify)};
  }
  return ApiResponse{res->status, res->body};
}

std::string K8sClient::describe_failure(int error, long verify_result) const {
  auto e = static_cast<httplib::Error>(error);
  std::string trusted = cfg_.insecure           ? std::string("verification off")
                        : !cfg_.ca_pem.empty()  ? std::string("certificate-authority-data")
                        : !cfg_.ca_file.empty() ? "CA file " + cfg_.ca_file
                                                : std::string("the system CA store");
  switch (e) {
    case httplib::Error::SSLServerVerification:
      if (verify_result != X509_V_OK) {
        return std::string("TLS: the API server's certificate is not trusted (") +
               X509_verify_cert_error_string(verify_result) + "; verified against " + trusted + ")";
      }
      return "TLS: the API server's certificate does not name the host in " + cfg_.server +
             " (verified against " + trusted + ")";
    case httplib::Error::SSLLoadingCerts:
      return "TLS: cannot load CA certificates from " + trusted;
    case httplib::Error::SSLConnection:
      return "TLS: handshake with " + cfg_.server + " failed (is it an HTTPS endpoint?)";
    case httplib::Error::Connection:
      return "cannot connect to " + cfg_.server;
    default:
      return httplib::to_string(e);
  }
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
