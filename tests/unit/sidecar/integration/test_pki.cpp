#include "test_pki.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace turbine::autoscaler::testing {

namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

// P-256: fast to generate, and every TLS stack accepts it.
Key new_key() {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr);
  check(ctx != nullptr, "EVP_PKEY_CTX_new_id");
  EVP_PKEY* k = nullptr;
  bool ok = EVP_PKEY_keygen_init(ctx) == 1 &&
            EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) == 1 &&
            EVP_PKEY_CTX_set_ec_param_enc(ctx, OPENSSL_EC_NAMED_CURVE) == 1 &&
            EVP_PKEY_keygen(ctx, &k) == 1;
  EVP_PKEY_CTX_free(ctx);
  check(ok, "EC key generation");
  return Key(k);
}

void add_ext(X509* cert, X509V3_CTX* v3, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, v3, nid, value);
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

// A certificate for `key` named `cn`, signed by (issuer, issuer_key), or self-signed when
// issuer is null. Valid from an hour ago (clock skew) for a day.
Cert new_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, long serial,
              const char* san = "IP:127.0.0.1,DNS:localhost") {
  Cert x(X509_new());
  check(x != nullptr, "X509_new");
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 86400);
  check(X509_set_pubkey(x.get(), key) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  if (issuer == nullptr) {
    add_ext(x.get(), &v3, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x.get(), &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(x.get(), &v3, NID_subject_key_identifier, "hash");
  } else {
    add_ext(x.get(), &v3, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x.get(), &v3, NID_key_usage, "critical,digitalSignature");
    add_ext(x.get(), &v3, NID_ext_key_usage, "serverAuth");
    add_ext(x.get(), &v3, NID_subject_alt_name, san);
  }
  check(X509_sign(x.get(), issuer_key ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return x;
}

void write_cert(const std::string& path, X509* x) {
  BIO* b = BIO_new_file(path.c_str(), "w");
  check(b != nullptr, "open certificate file");
  bool ok = PEM_write_bio_X509(b, x) == 1;
  BIO_free(b);
  check(ok, "PEM_write_bio_X509");
}

void write_key(const std::string& path, EVP_PKEY* k) {
  BIO* b = BIO_new_file(path.c_str(), "w");
  check(b != nullptr, "open key file");
  bool ok = PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  BIO_free(b);
  check(ok, "PEM_write_bio_PrivateKey");
}

}  // namespace

TestPki make_test_pki(const std::string& dir) {
  Key ca_key = new_key();
  Cert ca = new_cert(ca_key.get(), "turbine test CA", nullptr, nullptr, 1);
  Key server_key = new_key();
  Cert server = new_cert(server_key.get(), "localhost", ca.get(), ca_key.get(), 2);
  Key other_key = new_key();
  // Same subject as the real CA: only the signature can tell them apart.
  Cert other = new_cert(other_key.get(), "turbine test CA", nullptr, nullptr, 1);
  Key elsewhere_key = new_key();
  Cert elsewhere = new_cert(elsewhere_key.get(), "elsewhere.example", ca.get(), ca_key.get(), 3,
                            "DNS:elsewhere.example");

  TestPki p{dir + "/ca.crt",       dir + "/server.crt",    dir + "/server.key",
            dir + "/other-ca.crt", dir + "/elsewhere.crt", dir + "/elsewhere.key"};
  write_cert(p.ca_cert, ca.get());
  write_cert(p.server_cert, server.get());
  write_key(p.server_key, server_key.get());
  write_cert(p.other_ca_cert, other.get());
  write_cert(p.elsewhere_cert, elsewhere.get());
  write_key(p.elsewhere_key, elsewhere_key.get());
  return p;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string base64_encode(const std::string& bytes) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    out += abc[v >> 18];
    out += abc[(v >> 12) & 63];
    out += abc[(v >> 6) & 63];
    out += abc[v & 63];
  }
  if (i < bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += abc[v >> 18];
    out += abc[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? abc[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace turbine::autoscaler::testing
