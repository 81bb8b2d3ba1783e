// Throwaway certificates for the TLS tests, made at test time with the OpenSSL API (no keys
// are committed, and no openssl binary is needed): a CA, a server certificate it signs for
// 127.0.0.1/localhost, and a second CA that signed nothing (the "wrong CA").
#pragma once
#include <string>

namespace turbine::autoscaler::testing {

struct TestPki {
  std::string ca_cert;         // PEM file of the CA that signed server_cert
  std::string server_cert;     // PEM file: CN=localhost, SAN IP:127.0.0.1, DNS:localhost
  std::string server_key;      // PEM file (unencrypted)
  std::string other_ca_cert;   // PEM file of an unrelated CA
  std::string elsewhere_cert;  // PEM file signed by ca_cert for DNS:elsewhere.example only
  std::string elsewhere_key;
};

// Writes ca.crt, server.{crt,key}, other-ca.crt and elsewhere.{crt,key} into `dir`; throws
// on failure.
TestPki make_test_pki(const std::string& dir);

// The whole file as a string (for certificate-authority-data).
std::string slurp(const std::string& path);
std::string base64_encode(const std::string& bytes);

}  // namespace turbine::autoscaler::testing
