// Loading a certificate chain and its key into an SSL_CTX, and what the
// rest of infergate needs to know about the leaf: its DNS names (for SNI),
// its subject and when it expires (for the expiry metric).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "config/config.hpp"

namespace infergate::tls {

struct CertificateInfo {
    std::string cert_file;
    std::string subject;                 // RFC 2253, e.g. "CN=api.example.com,O=Example"
    std::vector<std::string> dns_names;  // subjectAltName DNS entries, lower-case
    int64_t not_after = 0;               // Unix seconds
    int64_t not_before = 0;
};

// Loads `cert_file` (PEM: the leaf, then intermediates) and `key_file`
// into `ctx` and checks that the key matches and that the leaf is valid
// now. Returns "" on success, else why not (naming the file).
std::string load_certificate(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file,
                             CertificateInfo& info);

// "KEY: message" for a problem with a file the config names; `where`
// gets the key's position in the config.
std::string file_error(const config::FileRef& f, const std::string& msg, config::Mark& where);

// The subject of `cert` as RFC 2253 text ("" for null).
std::string subject_text(X509* cert);

}  // namespace infergate::tls
