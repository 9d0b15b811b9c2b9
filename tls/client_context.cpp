#include "tls/client_context.hpp"

#include <arpa/inet.h>

#include <fmt/format.h>
#include <openssl/x509v3.h>

#include "tls/certificate.hpp"
#include "tls/file_stamp.hpp"
#include "tls/server_context.hpp"

namespace infergate::tls {

static int sink_index() {
    static const int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

static int on_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* sink = static_cast<SessionSink*>(SSL_get_ex_data(ssl, sink_index()));
    if (!sink) return 0;
    sink->on_new_session(ssl, session);
    return 0;  // the sink took its own reference if it kept the session
}


std::shared_ptr<const ClientTls> ClientTls::build(const config::UpstreamTls& cfg, std::string& error,
                                                  config::Mark& where) {
    where = cfg.mark;
    std::shared_ptr<ClientTls> out(new ClientTls());
    out->cfg_ = cfg;
    out->stamp_ = file_stamp({cfg.ca_file.path, cfg.cert_file.path, cfg.key_file.path});
    ERR_clear_error();
    out->ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX* ctx = out->ctx_.get();
    if (!ctx) {
        error = "cannot create an SSL context: " + take_errors();
        return nullptr;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx, kTls12Ciphers);
    SSL_CTX_set_ciphersuites(ctx, kTls13Suites);
    SSL_CTX_set1_groups_list(ctx, kGroups);
    // No SSL_OP_IGNORE_UNEXPECTED_EOF here: a model server's connection
    // cut without close_notify must not pass a close-delimited response
    // on as complete (the TLS truncation attack).
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx, 1);  // as for listeners (server_context.cpp)
    static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof kAlpn);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    if (cfg.insecure_skip_verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        if (!cfg.ca_file.empty()) {
            if (SSL_CTX_load_verify_locations(ctx, cfg.ca_file.path.c_str(), nullptr) != 1) {
                error = file_error(cfg.ca_file, fmt::format("cannot load CA file '{}': {}", cfg.ca_file.path, take_errors()), where);
                return nullptr;
            }
        } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            error = "cannot load the system trust store: " + take_errors();
            return nullptr;
        }
    }
    if (!cfg.cert_file.empty()) {
        CertificateInfo info;
        if (std::string e = load_certificate(ctx, cfg.cert_file.path, cfg.key_file.path, info); !e.empty()) {
            error = file_error(cfg.cert_file, e, where);
            return nullptr;
        }
    }
    return out;
}

bool ClientTls::same_as(const config::UpstreamTls& c) const {
    return c.ca_file.path == cfg_.ca_file.path && c.cert_file.path == cfg_.cert_file.path &&
           c.key_file.path == cfg_.key_file.path && c.server_name == cfg_.server_name &&
           c.insecure_skip_verify == cfg_.insecure_skip_verify &&
           file_stamp({c.ca_file.path, c.cert_file.path, c.key_file.path}) == stamp_;
}

static bool is_ip_literal(const std::string& host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

SSL* ClientTls::new_ssl(const std::string& host, SessionSink* sink) const {
    SSL* ssl = SSL_new(ctx_.get());
    if (!ssl) return nullptr;
    SSL_set_connect_state(ssl);
    SSL_set_ex_data(ssl, sink_index(), sink);
    const std::string& name = cfg_.server_name.empty() ? host : cfg_.server_name;
    bool ip = is_ip_literal(name);
    if (!ip) SSL_set_tlsext_host_name(ssl, name.c_str());
    if (!cfg_.insecure_skip_verify) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) : SSL_set1_host(ssl, name.c_str());
        if (ok != 1) {
            SSL_free(ssl);
            return nullptr;
        }
    }
    return ssl;
}

}  // namespace infergate::tls
