// Small RAII and error helpers over OpenSSL 3, shared by tls/.
#pragma once

#include <memory>
#include <string>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace infergate::tls {

struct SslCtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
    void operator()(SSL* s) const { SSL_free(s); }
};
struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

// Drains this thread's OpenSSL error queue into one line ("a; b"), or
// `fallback` when it is empty.
std::string take_errors(const std::string& fallback = "unknown OpenSSL error");

}  // namespace infergate::tls
