// The simulator's TLS server context (--tls-cert/--tls-key/--tls-client-ca).
// Start-up only: built once in main, then shared read-only by every
// connection on the sim's one thread.
//
// Settings follow the proxy's listener defaults (Mozilla "intermediate":
// TLS 1.2 and 1.3, ECDHE AEAD suites, X25519/P-256/P-384, server cipher
// preference, no renegotiation, ALPN http/1.1) so a proxy talking TLS to
// the sim meets what it meets with a vLLM behind a TLS-terminating server.
// Session resumption is on, both ways OpenSSL offers it: stateless
// tickets (TLS 1.3 and 1.2) and the server-side session-id cache (1.2),
// so the proxy's upstream resumption can be observed (/sim/stats
// "tls_handshakes").
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "bench/sim/config.hpp"

namespace infergate::sim {

// Builds the context from cfg.tls_*; nullptr with `error` set when a file
// is missing or malformed, or the key does not match the certificate.
// Requires cfg.tls_cert and cfg.tls_key to be set.
std::unique_ptr<boost::asio::ssl::context> make_tls_context(const Config& cfg, std::string& error);

}  // namespace infergate::sim
