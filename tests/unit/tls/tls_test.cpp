// tls/ without sockets: certificates made in memory, handshakes run
// between a client and a server SSL over an in-memory BIO pair.
// Covers SNI selection, certificate checks (key mismatch, expiry) and the
// ticket keys' rotation: a ticket under the previous key still resumes
// (and is renewed), one two keys old does not.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls/server_context.hpp"

using namespace infergate;

namespace {

std::filesystem::path temp_dir() {
    static std::filesystem::path dir = [] {
        char tmpl[] = "/tmp/infergate-tls-test.XXXXXX";
        return std::filesystem::path(mkdtemp(tmpl));
    }();
    return dir;
}

// A self-signed ECDSA certificate with `san` (e.g. "DNS:a.test"), valid
// from `from_days` to `to_days` around now; writes NAME.crt and NAME.key.
void make_cert(const std::string& name, const std::string& san, long from_days = -1, long to_days = 30) {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    REQUIRE(key);
    X509* x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::hash<std::string>{}(name) & 0x7fffffff));
    X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400);
    X509_set_pubkey(x, key);
    X509_NAME* n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str());
    REQUIRE(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    REQUIRE(X509_sign(x, key, EVP_sha256()) > 0);
    auto path = temp_dir() / name;
    FILE* f = std::fopen((path.string() + ".crt").c_str(), "w");
    PEM_write_X509(f, x);
    std::fclose(f);
    f = std::fopen((path.string() + ".key").c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
}

config::TlsCertificate cert_ref(const std::string& name, const std::string& key_name = "") {
    auto p = (temp_dir() / name).string();
    auto k = (temp_dir() / (key_name.empty() ? name : key_name)).string();
    return {{p + ".crt", "listeners[0].tls.certificates[0].cert_file", {"t.yaml", 7, 20}},
            {k + ".key", "listeners[0].tls.certificates[0].key_file", {"t.yaml", 8, 20}}};
}

std::shared_ptr<const tls::ServerTls> build(const config::ListenerTls& cfg, std::string& err,
                                            std::shared_ptr<tls::TicketKeys> keys = nullptr) {
    config::Mark where;
    if (!keys) keys = std::make_shared<tls::TicketKeys>(std::chrono::seconds(3600));
    return tls::ServerTls::build(cfg, "main", keys, err, where);
}

struct Outcome {
    bool ok = false;
    bool resumed = false;
    std::string subject_cn;
    tls::SslSessionRef session;
};

// One handshake (and one byte each way, so TLS 1.3 tickets arrive).
Outcome handshake(const tls::ServerTls& server, const char* sni, SSL_SESSION* resume, int max_version = 0) {
    Outcome out;
    SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, nullptr);
    if (max_version) SSL_CTX_set_max_proto_version(cctx, max_version);
    SSL* c = SSL_new(cctx);
    SSL* s = server.new_ssl();
    BIO *cb = nullptr, *sb = nullptr;
    BIO_new_bio_pair(&cb, 0, &sb, 0);
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    if (sni) SSL_set_tlsext_host_name(c, sni);
    if (resume) SSL_set_session(c, resume);
    bool cdone = false, sdone = false;
    for (int i = 0; i < 50 && !(cdone && sdone); ++i) {
        if (!cdone) {
            int r = SSL_do_handshake(c);
            if (r == 1) cdone = true;
            else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ) break;
        }
        if (!sdone) {
            int r = SSL_do_handshake(s);
            if (r == 1) sdone = true;
            else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ) break;
        }
    }
    if (cdone && sdone) {
        char byte = 'x';
        SSL_write(s, &byte, 1);
        SSL_read(c, &byte, 1);  // also reads the server's tickets
        SSL_write(c, &byte, 1);
        SSL_read(s, &byte, 1);
        out.ok = true;
        out.resumed = SSL_session_reused(c) == 1;
        X509* peer = SSL_get0_peer_certificate(c);
        char cn[256] = {};
        if (peer) X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
        out.subject_cn = cn;
        out.session.reset(SSL_get1_session(c));
        // A connection freed without a shutdown invalidates its session
        // (proxy/stream.cpp ends TLS the same way).
        SSL_shutdown(c);
        SSL_shutdown(s);
    }
    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cctx);
    return out;
}

}  // namespace

TEST_CASE("SNI chooses by SAN: exact, wildcard one label deep, else the first") {
    make_cert("default", "DNS:api.test");
    make_cert("wild", "DNS:*.internal.test,DNS:internal.test");
    config::ListenerTls cfg;
    cfg.certificates = {cert_ref("default"), cert_ref("wild")};
    std::string err;
    auto t = build(cfg, err);
    REQUIRE_MESSAGE(t, err);
    struct Case {
        const char* name;
        size_t index;
    };
    for (Case c : {Case{"api.test", 0}, {"a.internal.test", 1}, {"A.Internal.Test.", 1}, {"internal.test", 1},
                   {"x.a.internal.test", 0}, {"unknown.test", 0}, {"", 0}}) {
        CAPTURE(c.name);
        CHECK(t->select(c.name) == c.index);
    }
    CHECK(handshake(*t, "b.internal.test", nullptr).subject_cn == "wild");
    CHECK(handshake(*t, "nothing.test", nullptr).subject_cn == "default");
    CHECK(handshake(*t, nullptr, nullptr).subject_cn == "default");
    REQUIRE(t->certificates().size() == 2);
    CHECK(t->certificates()[1].dns_names == std::vector<std::string>{"*.internal.test", "internal.test"});
    CHECK(t->certificates()[0].not_after > t->certificates()[0].not_before);
}

TEST_CASE("bad certificates are refused with the key and the reason") {
    make_cert("good", "DNS:good.test");
    make_cert("other", "DNS:other.test");
    make_cert("expired", "DNS:old.test", -30, -1);
    make_cert("future", "DNS:new.test", 2, 30);
    struct Case {
        config::TlsCertificate cert;
        const char* needle;
    };
    Case cases[] = {
        {cert_ref("good", "other"), "does not match certificate"},
        {cert_ref("expired"), "expired at"},
        {cert_ref("future"), "is not valid before"},
        {cert_ref("missing"), "cannot load certificate chain"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.needle);
        config::ListenerTls cfg;
        cfg.certificates = {c.cert};
        std::string err;
        config::Mark where;
        auto t = tls::ServerTls::build(cfg, "main", nullptr, err, where);
        CHECK_FALSE(t);
        CHECK(err.find(c.needle) != std::string::npos);
        CHECK(err.rfind("listeners[0].tls.certificates[0].cert_file: ", 0) == 0);
        CHECK(where.line == 7);
    }
}

TEST_CASE("ticket keys rotate: the previous key resumes and renews, an older one does not") {
    make_cert("tickets", "DNS:t.test");
    config::ListenerTls cfg;
    cfg.certificates = {cert_ref("tickets")};
    // Period 0: every use of the keys rotates them first, so each
    // handshake below runs under a new current key.
    auto keys = std::make_shared<tls::TicketKeys>(std::chrono::seconds(0));
    std::string err;
    auto t = build(cfg, err, keys);
    REQUIRE_MESSAGE(t, err);
    for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        CAPTURE(version);
        Outcome first = handshake(*t, "t.test", nullptr, version);
        REQUIRE(first.ok);
        CHECK_FALSE(first.resumed);
        REQUIRE(first.session);
        uint64_t r0 = keys->rotations();
        // One rotation since the ticket was issued: previous key, accepted.
        Outcome second = handshake(*t, "t.test", first.session.get(), version);
        CHECK(second.ok);
        CHECK(second.resumed);
        CHECK(keys->rotations() > r0);
        // The first ticket is now two keys old: a full handshake.
        keys->set_period(std::chrono::seconds(0));
        Outcome third = handshake(*t, "t.test", first.session.get(), version);
        CHECK(third.ok);
        CHECK_FALSE(third.resumed);
    }
}

TEST_CASE("with a long period, tickets resume repeatedly without rotation") {
    make_cert("stable", "DNS:s.test");
    config::ListenerTls cfg;
    cfg.certificates = {cert_ref("stable")};
    auto keys = std::make_shared<tls::TicketKeys>(std::chrono::seconds(3600));
    std::string err;
    auto t = build(cfg, err, keys);
    REQUIRE(t);
    Outcome first = handshake(*t, "s.test", nullptr);
    REQUIRE(first.session);
    for (int i = 0; i < 3; ++i) {
        Outcome again = handshake(*t, "s.test", first.session.get());
        CHECK(again.resumed);
    }
    CHECK(keys->rotations() == 0);
    std::filesystem::remove_all(temp_dir());
}
