#include "tls/server_context.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include <openssl/evp.h>

#include <fmt/format.h>

namespace infergate::tls {

ServerTls::~ServerTls() = default;

// ALPN: choose http/1.1 if the client offers it. A client that offers
// only other protocols (h2) gets the no_application_protocol alert, as
// RFC 7301 section 3.2 asks, rather than a protocol it did not ask for.
static int on_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                   unsigned int inlen, void*) {
    static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

size_t ServerTls::select(std::string_view name) const {
    if (name.empty() || name.size() > 253) return 0;
    std::string n = lower(name);
    if (!n.empty() && n.back() == '.') n.pop_back();  // a fully qualified name
    if (auto it = exact_.find(n); it != exact_.end()) return it->second;
    size_t dot = n.find('.');
    if (dot != std::string::npos && dot > 0)
        if (auto it = wildcard_.find(n.substr(dot + 1)); it != wildcard_.end()) return it->second;
    return 0;
}

int ServerTls::on_servername(SSL* ssl, int*, void* arg) {
    const auto* self = static_cast<const ServerTls*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_NOACK;
    size_t i = self->select(name);
    if (i != 0) SSL_set_SSL_CTX(ssl, self->ctxs_[i].get());
    return SSL_TLSEXT_ERR_OK;
}


// The session id context binds a session (and ticket) to what it was
// authenticated under: OpenSSL resumes a session without asking for a
// client certificate again, so a reload that adds or changes client
// verification must not let sessions from before it resume. Computed once
// per build, shared by every certificate's context.
static std::vector<unsigned char> session_id_context(const config::ListenerTls& cfg, const std::string& listener) {
    std::string ca_bytes;
    if (!cfg.client_ca_file.empty()) {
        std::ifstream f(cfg.client_ca_file.path, std::ios::binary);
        ca_bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    std::string material = fmt::format("infergate/{}/{}/{}/", listener, cfg.client_ca_file.empty() ? 0 : 1,
                                       cfg.client_cert_required ? 1 : 0) + ca_bytes;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (EVP_Digest(material.data(), material.size(), md, &len, EVP_sha256(), nullptr) != 1) return {};
    return {md, md + std::min<unsigned>(len, SSL_MAX_SID_CTX_LENGTH)};
}

static std::string configure(SSL_CTX* ctx, const config::ListenerTls& cfg, const std::vector<unsigned char>& sid,
                             config::Mark& where) {
    if (SSL_CTX_set_min_proto_version(ctx, cfg.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
        return "cannot set the protocol versions: " + take_errors();
    if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) return "cannot set the TLS 1.2 ciphers: " + take_errors();
    if (SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1) return "cannot set the TLS 1.3 suites: " + take_errors();
    if (SSL_CTX_set1_groups_list(ctx, kGroups) != 1) return "cannot set the key exchange groups: " + take_errors();
    // SSL_OP_NO_RENEGOTIATION refuses every renegotiation (OpenSSL 3
    // already refuses client-initiated ones unless allowed).
    uint64_t opts = SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                    SSL_OP_IGNORE_UNEXPECTED_EOF;
    if (!cfg.session_tickets) opts |= SSL_OP_NO_TICKET;
    SSL_CTX_set_options(ctx, opts);
    // Partial writes so a large response is sent as it is encrypted; the
    // buffers are released while a connection idles (16 KiB+ each).
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    // Read-ahead: one read(2) takes whatever the socket holds, instead of
    // one for each record's header and one for its body (a keep-alive
    // request cost 2 reads). Bytes read ahead stay inside OpenSSL, which
    // Stream::has_buffered() reports before a connection parks.
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_session_id_context(ctx, sid.data(), static_cast<unsigned>(sid.size()));
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, 20480);
    SSL_CTX_set_timeout(ctx, static_cast<long>(std::max<int64_t>(1, cfg.session_timeout.count() / 1000)));
    // TLS 1.3: one ticket per full handshake is enough for a client that
    // reconnects one connection at a time (the default is two).
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, nullptr);
    if (!cfg.client_ca_file.empty()) {
        const std::string& ca = cfg.client_ca_file.path;
        if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1)
            return file_error(cfg.client_ca_file, fmt::format("cannot load CA file '{}': {}", ca, take_errors()), where);
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str());
        if (!names)
            return file_error(cfg.client_ca_file, fmt::format("'{}' holds no CA certificate: {}", ca, take_errors()), where);
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (cfg.client_cert_required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                           nullptr);
        SSL_CTX_set_verify_depth(ctx, 8);
    }
    return {};
}

std::shared_ptr<const ServerTls> ServerTls::build(const config::ListenerTls& cfg, const std::string& listener,
                                                  std::shared_ptr<TicketKeys> keys, std::string& error,
                                                  config::Mark& where) {
    where = cfg.mark;
    std::shared_ptr<ServerTls> out(new ServerTls());
    out->cfg_ = cfg;
    out->keys_ = std::move(keys);
    ERR_clear_error();
    const std::vector<unsigned char> sid = session_id_context(cfg, listener);
    if (sid.empty()) {
        error = "cannot hash the session id context: " + take_errors();
        return nullptr;
    }
    for (size_t i = 0; i < cfg.certificates.size(); ++i) {
        const config::TlsCertificate& c = cfg.certificates[i];
        SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
        if (!ctx) {
            error = "cannot create an SSL context: " + take_errors();
            return nullptr;
        }
        if (std::string e = configure(ctx.get(), cfg, sid, where); !e.empty()) {
            error = std::move(e);
            return nullptr;
        }
        CertificateInfo info;
        if (std::string e = load_certificate(ctx.get(), c.cert_file.path, c.key_file.path, info); !e.empty()) {
            error = file_error(c.cert_file, e, where);
            return nullptr;
        }
        if (out->keys_ && cfg.session_tickets) out->keys_->install(ctx.get());
        SSL_CTX_set_tlsext_servername_callback(ctx.get(), &ServerTls::on_servername);
        SSL_CTX_set_tlsext_servername_arg(ctx.get(), out.get());
        // First certificate naming a host wins; later ones only add names.
        for (const std::string& n : info.dns_names) {
            if (n.starts_with("*.")) out->wildcard_.emplace(n.substr(2), i);
            else out->exact_.emplace(n, i);
        }
        out->ctxs_.push_back(std::move(ctx));
        out->certs_.push_back(std::move(info));
    }
    if (out->ctxs_.empty()) {
        error = "no certificate configured";
        return nullptr;
    }
    return out;
}

SSL* ServerTls::new_ssl() const {
    SSL* ssl = SSL_new(ctxs_[0].get());
    if (ssl) SSL_set_accept_state(ssl);
    return ssl;
}

}  // namespace infergate::tls
