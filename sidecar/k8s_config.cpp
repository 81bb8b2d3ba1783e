#include "sidecar/k8s_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace turbine::autoscaler {

Result<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Error{"cannot read " + path};
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

static std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\n')) ++i;
  return s.substr(i);
}

Result<std::string> base64_decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
    int v = value(c);
    if (v < 0) return Error{"invalid base64"};
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

std::string service_account_dir() {
  const char* dir = std::getenv("TURBINE_SERVICE_ACCOUNT_DIR");
  return dir && *dir ? dir : kServiceAccountDir;
}

Result<ClusterConfig> load_in_cluster(const std::string& dir,
                                      const std::map<std::string, std::string>& env) {
  auto getenv_ = [&](const char* k) -> std::string {
    if (!env.empty()) {
      auto it = env.find(k);
      return it == env.end() ? "" : it->second;
    }
    const char* v = std::getenv(k);
    return v ? v : "";
  };
  std::string host = getenv_("KUBERNETES_SERVICE_HOST");
  std::string port = getenv_("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return Error{
        "not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset); pass --kubeconfig"};
  }
  ClusterConfig c;
  // IPv6 service hosts need brackets in a URL.
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  c.server = "https://" + host + ":" + port;
  c.token_file = dir + "/token";
  if (!read_file(c.token_file)) return Error{"cannot read service-account token " + c.token_file};
  c.ca_file = dir + "/ca.crt";
  if (!read_file(c.ca_file)) return Error{"cannot read service-account CA " + c.ca_file};
  if (auto ns = read_file(dir + "/namespace")) c.namespace_name = trim(*ns);
  return c;
}

Result<ClusterConfig> load_kubeconfig(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return Error{"kubeconfig " + path + ": " + e.what()};
  }
  auto find_named = [&](const char* list, const std::string& name, const char* field) {
    // Undefined (false in a test), unlike a default-constructed Node, which is a defined null.
    YAML::Node out(YAML::NodeType::Undefined);
    if (!root[list] || !root[list].IsSequence()) return out;
    for (const auto& item : root[list]) {
      if (item["name"] && item["name"].as<std::string>() == name) return YAML::Node(item[field]);
    }
    return out;
  };
  try {
    std::string current = root["current-context"] ? root["current-context"].as<std::string>() : "";
    if (current.empty() && root["contexts"] && root["contexts"].size() == 1) {
      current = root["contexts"][0]["name"].as<std::string>();
    }
    if (current.empty()) return Error{"kubeconfig " + path + ": no current-context"};
    YAML::Node ctx = find_named("contexts", current, "context");
    if (!ctx) return Error{"kubeconfig " + path + ": context '" + current + "' not found"};
    std::string cluster_name = ctx["cluster"] ? ctx["cluster"].as<std::string>() : "";
    std::string user_name = ctx["user"] ? ctx["user"].as<std::string>() : "";
    YAML::Node cluster = find_named("clusters", cluster_name, "cluster");
    if (!cluster || !cluster["server"]) {
      return Error{"kubeconfig " + path + ": cluster '" + cluster_name + "' has no server"};
    }
    ClusterConfig c;
    c.server = cluster["server"].as<std::string>();
    while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
    if (c.server.rfind("http://", 0) != 0 && c.server.rfind("https://", 0) != 0) {
      return Error{"kubeconfig " + path + ": server must start with https:// or http://"};
    }
    std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
    auto relative = [&](std::string p) { return p.empty() || p[0] == '/' ? p : dir + "/" + p; };
    if (cluster["certificate-authority-data"]) {
      auto pem = base64_decode(cluster["certificate-authority-data"].as<std::string>());
      if (!pem) return Error{"kubeconfig " + path + ": certificate-authority-data: " + pem.error()};
      c.ca_pem = *pem;
    } else if (cluster["certificate-authority"]) {
      c.ca_file = relative(cluster["certificate-authority"].as<std::string>());
    }
    if (cluster["insecure-skip-tls-verify"]) {
      c.insecure = cluster["insecure-skip-tls-verify"].as<bool>();
    }
    YAML::Node user = find_named("users", user_name, "user");
    if (user && user["token"]) {
      c.token = user["token"].as<std::string>();
    } else if (user && user["tokenFile"]) {
      c.token_file = relative(user["tokenFile"].as<std::string>());
    }
    if (ctx["namespace"]) c.namespace_name = ctx["namespace"].as<std::string>();
    return c;
  } catch (const YAML::Exception& e) {
    return Error{"kubeconfig " + path + ": " + e.what()};
  }
}

}  // namespace turbine::autoscaler
