#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>

namespace infergate::tls {

// Why a TLS handshake failed, for metrics: a fixed set of labels
// (proxy/stream.cpp classifies OpenSSL's errors into them).
enum class Failure : uint8_t {
    timeout, peer_closed, http_on_tls_port, unsupported_version, no_shared_cipher, no_client_certificate,
    bad_client_certificate, bad_server_certificate, no_alpn_match, peer_alert, malformed, other, count_
};
inline constexpr const char* kFailureNames[] = {
    "timeout", "peer_closed", "http_on_tls_port", "unsupported_version", "no_shared_cipher",
    "no_client_certificate", "bad_client_certificate", "bad_server_certificate", "no_alpn_match",
    "peer_alert", "malformed", "other"};
static_assert(std::size(kFailureNames) == static_cast<size_t>(Failure::count_));

}  // namespace infergate::tls
