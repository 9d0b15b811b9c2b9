#include "bench/sim/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>

#include <fmt/format.h>

namespace infergate::sim {
namespace {

namespace ssl = boost::asio::ssl;

// Mozilla intermediate, in its order (server preference applies it).
constexpr const char* kCiphers12 =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kCiphers13 =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519:prime256v1:secp384r1";
// Scopes cached sessions to this server; OpenSSL refuses to resume a
// session without one when client certificates are verified.
constexpr unsigned char kSessionIdContext[] = "infergate-sim";

// The newest OpenSSL error as text ("no start line", "key values mismatch").
std::string openssl_error() {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

// ALPN: http/1.1 when offered. A client offering only other protocols
// (h2) gets no ALPN answer and may still speak HTTP/1.1, as with servers
// that do not do ALPN at all.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
    static constexpr unsigned char kHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
    for (unsigned int i = 0; i < inlen;) {
        const unsigned int len = in[i];
        if (i + 1 + len > inlen) break;
        if (len == sizeof kHttp11 && std::memcmp(in + i + 1, kHttp11, len) == 0) {
            *out = in + i + 1;
            *outlen = static_cast<unsigned char>(len);
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + len;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

std::unique_ptr<ssl::context> make_tls_context(const Config& cfg, std::string& error) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    SSL_CTX* c = ctx->native_handle();
    auto fail = [&](std::string_view what, const std::string& file) {
        error = fmt::format("{} {}: {}", what, file, openssl_error());
        return nullptr;
    };
    ERR_clear_error();
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_set_cipher_list(c, kCiphers12) != 1 || SSL_CTX_set_ciphersuites(c, kCiphers13) != 1 ||
        SSL_CTX_set1_groups_list(c, kGroups) != 1) {
        error = "TLS settings: " + openssl_error();
        return nullptr;
    }
    SSL_CTX_set_alpn_select_cb(c, select_alpn, nullptr);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_session_id_context(c, kSessionIdContext, sizeof kSessionIdContext - 1);

    if (SSL_CTX_use_certificate_chain_file(c, cfg.tls_cert.c_str()) != 1) {
        return fail("--tls-cert", cfg.tls_cert);
    }
    if (SSL_CTX_use_PrivateKey_file(c, cfg.tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
        return fail("--tls-key", cfg.tls_key);
    }
    if (SSL_CTX_check_private_key(c) != 1) return fail("--tls-key does not match", cfg.tls_cert);

    if (!cfg.tls_client_ca.empty()) {
        const char* file = cfg.tls_client_ca.c_str();
        if (SSL_CTX_load_verify_locations(c, file, nullptr) != 1) {
            return fail("--tls-client-ca", cfg.tls_client_ca);
        }
        // The CA names go into the CertificateRequest, so a client holding
        // several certificates knows which one to send.
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(file);
        if (names == nullptr) return fail("--tls-client-ca", cfg.tls_client_ca);
        SSL_CTX_set_client_CA_list(c, names);
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    return ctx;
}

}  // namespace infergate::sim
