// `tls` of listeners and pools: what is accepted, defaults, every
// rejection, and that plain <-> TLS needs a restart.
#include <doctest/doctest.h>

#include "helpers.hpp"

using namespace cfgtest;

static std::string tls_listener(const std::string& tls_body) {
    return "listeners:\n  - name: main\n    address: 127.0.0.1:0\n    tls:\n" + tls_body;
}

static const std::string one_cert = "      certificates:\n        - cert_file: a.crt\n          key_file: a.key\n";

TEST_CASE("listener tls: defaults and every key") {
    auto r = load_config_string(tls_listener(one_cert), "/etc/infergate/t.yaml");
    REQUIRE_MESSAGE(r.ok(), all_errors(r));
    const auto& t = *r.config->listeners[0].tls;
    REQUIRE(t.certificates.size() == 1);
    CHECK(t.certificates[0].cert_file.path == "/etc/infergate/a.crt");  // relative to the config file
    CHECK(t.certificates[0].cert_file.key == "listeners[0].tls.certificates[0].cert_file");
    CHECK(t.certificates[0].cert_file.mark.line == 6);
    CHECK_FALSE(t.tls13_only);
    CHECK(t.client_ca_file.empty());
    CHECK(t.handshake_timeout == Duration{10000});
    CHECK(t.session_tickets);
    CHECK(t.session_timeout == Duration{3600 * 1000});
    CHECK(t.watch_interval == Duration{1000});
    CHECK(t.client_subject_header == "x-client-cert-subject");

    auto full = load(tls_listener(one_cert +
                                  "        - cert_file: /abs/b.crt\n          key_file: /abs/b.key\n"
                                  "      min_version: \"1.3\"\n      client_ca_file: ca.pem\n      client_cert: optional\n"
                                  "      client_subject_header: X-Tenant\n      handshake_timeout: 2s\n"
                                  "      session_tickets: false\n      session_timeout: 2h\n      watch_interval: 0s\n"));
    REQUIRE_MESSAGE(full.ok(), all_errors(full));
    const auto& f = *full.config->listeners[0].tls;
    CHECK(f.certificates.size() == 2);
    CHECK(f.certificates[1].key_file.path == "/abs/b.key");
    CHECK(f.tls13_only);
    CHECK(f.client_ca_file.path == "ca.pem");
    CHECK_FALSE(f.client_cert_required);
    CHECK(f.client_subject_header == "x-tenant");
    CHECK(f.handshake_timeout == Duration{2000});
    CHECK_FALSE(f.session_tickets);
    CHECK(f.session_timeout == Duration{7200 * 1000});
    CHECK(f.watch_interval == Duration{0});
    CHECK_FALSE(load(listener).config->listeners[0].tls.has_value());
}

TEST_CASE("listener tls: rejections") {
    struct Case {
        std::string body, error;
    };
    const Case cases[] = {
        {"      min_version: \"1.2\"\n", "missing required key 'certificates' in listeners[0].tls"},
        {"      certificates: []\n", "listeners[0].tls.certificates must hold at least one certificate"},
        {"      certificates:\n        - cert_file: a.crt\n", "missing required key 'key_file' in listeners[0].tls.certificates[0]"},
        {"      certificates:\n        - key_file: a.key\n", "missing required key 'cert_file' in listeners[0].tls.certificates[0]"},
        {one_cert + "      min_version: \"1.1\"\n", "listeners[0].tls.min_version must be '1.2' or '1.3', got '1.1'"},
        {one_cert + "      client_cert: required\n", "listeners[0].tls.client_cert needs listeners[0].tls.client_ca_file"},
        {one_cert + "      client_ca_file: ca.pem\n      client_cert: maybe\n", "must be 'required' or 'optional', got 'maybe'"},
        {one_cert + "      client_subject_header: \"x bad\"\n", "is not a header name"},
        {one_cert + "      session_timeout: 500ms\n", "listeners[0].tls.session_timeout must be at least"},
        {one_cert + "      handshake_timeout: 0s\n", "listeners[0].tls.handshake_timeout must be at least"},
        {one_cert + "      session_tickets: yes\n", "listeners[0].tls.session_tickets"},
        {one_cert + "      certfile: x\n", "unknown key 'certfile' in listeners[0].tls"},
        {"      certificates:\n        - cert_file: a.crt\n          key_file: a.key\n          chain: x\n",
         "unknown key 'chain' in listeners[0].tls.certificates[0]"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.body);
        expect_error(tls_listener(c.body), c.error);
    }
}

TEST_CASE("pool tls: keys and rejections") {
    auto r = load(with("", "    tls:\n      ca_file: ca.pem\n      server_name: vllm.internal\n"
                           "      cert_file: c.crt\n      key_file: c.key\n"));
    REQUIRE_MESSAGE(r.ok(), all_errors(r));
    const auto& t = *r.config->pools[0].tls;
    CHECK(t.ca_file.path == "ca.pem");
    CHECK(t.server_name == "vllm.internal");
    CHECK(t.cert_file.path == "c.crt");
    CHECK_FALSE(t.insecure_skip_verify);
    auto empty = load(with("", "    tls: {}\n"));
    REQUIRE_MESSAGE(empty.ok(), all_errors(empty));
    CHECK(empty.config->pools[0].tls.has_value());
    expect_error(with("", "    tls:\n      cert_file: c.crt\n"), "pools[0].tls: cert_file and key_file go together");
    expect_error(with("", "    tls:\n      insecure_skip_verify: true\n      ca_file: ca.pem\n"),
                 "ca_file has no effect with insecure_skip_verify: true");
    expect_error(with("", "    tls:\n      verify: false\n"), "unknown key 'verify' in pools[0].tls");
    expect_error(with("", "    tls: true\n"), "pools[0].tls must be a map");
}

TEST_CASE("plain <-> TLS on a listener needs a restart; TLS settings do not") {
    auto plain = load(listener);
    auto tls = load(tls_listener(one_cert));
    auto tls2 = load(tls_listener(one_cert + "      min_version: \"1.3\"\n"));
    REQUIRE((plain.ok() && tls.ok() && tls2.ok()));
    auto changes = restart_required_changes(*plain.config, *tls.config);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0] == "listener 'main' changed from plain HTTP to TLS: restart required");
    CHECK(restart_required_changes(*tls.config, *tls2.config).empty());
}
