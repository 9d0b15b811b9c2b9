// The client-facing TLS of one listener: one SSL_CTX per certificate, all
// with the same settings, and the SNI choice between them.
//
// Settings (Mozilla's "intermediate" profile, or "modern" with
// min_version "1.3"): TLS 1.2 and 1.3 only; TLS 1.2 suites ECDHE with
// AES-GCM or CHACHA20-POLY1305; groups X25519, P-256, P-384. Server cipher
// preference is on (Mozilla leaves the order to the client; every suite
// listed is strong either way, and scanners count a missing preference
// against us). Renegotiation is off, compression off. Sessions resume by
// ticket (keys in memory, tls/ticket_keys.hpp) or from the session cache.
// ALPN: http/1.1 only, until HTTP/2 exists.
//
// A ServerTls is immutable once built; a certificate reload builds a new
// one and the listener's workers switch to it for new connections. A
// connection keeps the ServerTls it started with (the SNI callback points
// at it) until it closes.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <openssl/ssl.h>

#include "config/config.hpp"
#include "tls/certificate.hpp"
#include "tls/openssl_util.hpp"
#include "tls/ticket_keys.hpp"

namespace infergate::tls {

// The Mozilla-intermediate TLS 1.2 cipher list and the TLS 1.3 suites.
inline constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
inline constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
inline constexpr const char* kGroups = "X25519:prime256v1:secp384r1";

class ServerTls {
public:
    // Builds the contexts for `cfg`: loads and checks every certificate
    // (and the client CA). On failure returns null and sets `error`
    // (naming the config key and the file) and `where` (the key's place).
    static std::shared_ptr<const ServerTls> build(const config::ListenerTls& cfg, const std::string& listener,
                                                  std::shared_ptr<TicketKeys> keys, std::string& error,
                                                  config::Mark& where);
    ~ServerTls();

    // A new server-side SSL on the default context (null: out of memory).
    SSL* new_ssl() const;
    const std::vector<CertificateInfo>& certificates() const { return certs_; }
    const config::ListenerTls& config() const { return cfg_; }
    const std::shared_ptr<TicketKeys>& keys() const { return keys_; }
    // The certificate index SNI `name` selects (the default, 0, when none
    // matches): exact SAN names first, then `*.` wildcards one label deep.
    size_t select(std::string_view name) const;

private:
    ServerTls() = default;
    static int on_servername(SSL* ssl, int* alert, void* arg);

    config::ListenerTls cfg_;
    std::shared_ptr<TicketKeys> keys_;
    std::vector<SslCtxPtr> ctxs_;
    std::vector<CertificateInfo> certs_;
    std::unordered_map<std::string, size_t> exact_;     // "api.example.com" -> index
    std::unordered_map<std::string, size_t> wildcard_;  // "example.com" for *.example.com
};

}  // namespace infergate::tls
