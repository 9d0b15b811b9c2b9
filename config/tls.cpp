// `tls` sections: a listener's (client-facing) and a pool's (to its
// endpoints). Files are only named here; tls/ reads and checks them when
// the runtime is built, so a bad certificate is reported with this key.
#include <filesystem>

#include <fmt/format.h>

#include "config/validate.hpp"

namespace infergate::config {
namespace {

std::optional<FileRef> read_file_ref(Diag& d, const Node& n, const std::string& path, const std::string& base_dir) {
    auto s = read_string(d, n, path);
    if (!s) return std::nullopt;
    std::filesystem::path p(*s);
    if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
    return FileRef{p.lexically_normal().string(), path, n.mark};
}

// HTTP field names: RFC 9110 tokens, kept lower-case as the codec compares.
std::optional<std::string> read_header_name(Diag& d, const Node& n, const std::string& path) {
    auto s = read_string(d, n, path);
    if (!s) return std::nullopt;
    std::string out;
    for (char c : *s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) {
            d.error(n.mark, fmt::format("{} '{}' is not a header name (letters, digits, '-', '_')", path, *s));
            return std::nullopt;
        }
        out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    }
    return out;
}

}  // namespace

void read_listener_tls(Diag& d, const Node& n, const std::string& path, const std::string& base_dir,
                       ListenerTls& out) {
    MapReader r(d, n, path);
    if (!r.ok()) return;
    out.mark = n.mark;
    if (const Node* list = r.require("certificates")) {
        const std::string lp = r.path("certificates");
        if (expect_list(d, *list, lp)) {
            if (list->items.empty()) d.error(list->mark, fmt::format("{} must hold at least one certificate", lp));
            for (size_t i = 0; i < list->items.size(); ++i) {
                MapReader c(d, list->items[i], index_path(lp, i));
                if (!c.ok()) continue;
                TlsCertificate cert;
                if (const Node* v = c.require("cert_file"))
                    if (auto f = read_file_ref(d, *v, c.path("cert_file"), base_dir)) cert.cert_file = *f;
                if (const Node* v = c.require("key_file"))
                    if (auto f = read_file_ref(d, *v, c.path("key_file"), base_dir)) cert.key_file = *f;
                c.finish();
                out.certificates.push_back(std::move(cert));
            }
        }
    }
    if (const Node* v = r.get("min_version")) {
        if (auto s = read_string(d, *v, r.path("min_version"))) {
            if (*s == "1.2") out.tls13_only = false;
            else if (*s == "1.3") out.tls13_only = true;
            else d.error(v->mark, fmt::format("{} must be '1.2' or '1.3', got '{}' (older versions are not offered)",
                                              r.path("min_version"), *s));
        }
    }
    if (const Node* v = r.get("client_ca_file"))
        if (auto f = read_file_ref(d, *v, r.path("client_ca_file"), base_dir)) out.client_ca_file = *f;
    if (const Node* v = r.get("client_cert")) {
        if (auto s = read_string(d, *v, r.path("client_cert"))) {
            if (*s == "required") out.client_cert_required = true;
            else if (*s == "optional") out.client_cert_required = false;
            else d.error(v->mark, fmt::format("{} must be 'required' or 'optional', got '{}'", r.path("client_cert"), *s));
        }
        if (out.client_ca_file.empty())
            d.error(v->mark, fmt::format("{} needs {}", r.path("client_cert"), r.path("client_ca_file")));
    }
    if (const Node* v = r.get("client_subject_header"))
        if (auto h = read_header_name(d, *v, r.path("client_subject_header"))) out.client_subject_header = *h;
    auto dur = [&](const char* key, Duration& o, Duration min) {
        if (const Node* v = r.get(key))
            if (auto x = read_duration(d, *v, r.path(key), min)) o = *x;
    };
    dur("handshake_timeout", out.handshake_timeout, Duration{1});
    dur("session_timeout", out.session_timeout, Duration{1000});
    dur("watch_interval", out.watch_interval, Duration{0});
    if (const Node* v = r.get("session_tickets"))
        if (auto b = read_bool(d, *v, r.path("session_tickets"))) out.session_tickets = *b;
    r.finish();
}

void read_upstream_tls(Diag& d, const Node& n, const std::string& path, const std::string& base_dir,
                       UpstreamTls& out) {
    MapReader r(d, n, path);
    if (!r.ok()) return;
    out.mark = n.mark;
    auto file = [&](const char* key, FileRef& o) {
        if (const Node* v = r.get(key))
            if (auto f = read_file_ref(d, *v, r.path(key), base_dir)) o = *f;
    };
    file("ca_file", out.ca_file);
    file("cert_file", out.cert_file);
    file("key_file", out.key_file);
    if (out.cert_file.empty() != out.key_file.empty())
        d.error(n.mark, fmt::format("{}: cert_file and key_file go together", path));
    if (const Node* v = r.get("server_name"))
        if (auto s = read_string(d, *v, r.path("server_name"))) out.server_name = *s;
    if (const Node* v = r.get("insecure_skip_verify"))
        if (auto b = read_bool(d, *v, r.path("insecure_skip_verify"))) out.insecure_skip_verify = *b;
    if (out.insecure_skip_verify && !out.ca_file.empty())
        d.error(n.mark, fmt::format("{}: ca_file has no effect with insecure_skip_verify: true", path));
    r.finish();
}

}  // namespace infergate::config
