// TLS from infergate to one pool's endpoints: one client SSL_CTX per pool
// (verification on by default, against the pool's CA file or the system
// trust store; an optional client certificate), shared by every worker.
//
// Sessions: the context keeps no session cache of its own; a new session
// is handed to `on_new_session` (set per SSL through ex data by whoever
// owns the connection), so each worker keeps the last session per
// endpoint and resumes with it (proxy/upstream_pool.hpp).
#pragma once

#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "config/config.hpp"
#include "tls/openssl_util.hpp"

namespace infergate::tls {

// Receives a new client session (TLS 1.3 sends it after the handshake).
// Takes a reference on `session` when it keeps it.
class SessionSink {
public:
    virtual void on_new_session(SSL* ssl, SSL_SESSION* session) = 0;

protected:
    ~SessionSink() = default;
};

class ClientTls {
public:
    // Null, `error` (naming the key and file) and `where` (the key's
    // place) when a file is unusable.
    static std::shared_ptr<const ClientTls> build(const config::UpstreamTls& cfg, std::string& error,
                                                  config::Mark& where);

    // A client SSL for `host` (an endpoint's host: a name or an IP
    // literal): SNI is the configured server_name or the host when it is
    // a name; the certificate must match that name (or IP). `sink`
    // receives its sessions. Null on allocation failure.
    SSL* new_ssl(const std::string& host, SessionSink* sink) const;
    bool verifies() const { return !cfg_.insecure_skip_verify; }
    // Whether this context is what build(cfg) would make now: the same
    // settings and files unchanged on disk. A reload keeps such a context,
    // and with it the pooled connections and sessions made under it.
    bool same_as(const config::UpstreamTls& cfg) const;
    const config::UpstreamTls& config() const { return cfg_; }

private:
    ClientTls() = default;
    config::UpstreamTls cfg_;
    std::string stamp_;  // file_stamp of the CA, certificate and key files
    SslCtxPtr ctx_;
};

}  // namespace infergate::tls
