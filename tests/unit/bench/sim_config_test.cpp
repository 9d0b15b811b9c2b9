// Unit tests of infergate-sim's command-line parsing: the TLS flags.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "bench/sim/config.hpp"

using namespace infergate::sim;

namespace {

ParseOutcome parse(std::vector<std::string> args, Config& cfg, std::string& message) {
    args.insert(args.begin(), "infergate-sim");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    return parse_args(static_cast<int>(argv.size()), argv.data(), cfg, message);
}

}  // namespace

TEST_CASE("TLS flags: accepted combinations fill the config") {
    Config cfg;
    std::string message;
    REQUIRE(parse({"--tls-cert", "s.crt", "--tls-key=s.key", "--tls-client-ca", "ca.crt"}, cfg,
                  message) == ParseOutcome::run);
    CHECK(cfg.tls_cert == "s.crt");
    CHECK(cfg.tls_key == "s.key");
    CHECK(cfg.tls_client_ca == "ca.crt");
    Config plain;
    REQUIRE(parse({}, plain, message) == ParseOutcome::run);
    CHECK(plain.tls_cert.empty());
}

TEST_CASE("TLS flags: rejected combinations say why") {
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const Case cases[] = {
        {{"--tls-cert", "s.crt"}, "--tls-cert and --tls-key go together"},
        {{"--tls-key", "s.key"}, "--tls-cert and --tls-key go together"},
        {{"--tls-client-ca", "ca.crt"}, "--tls-client-ca needs --tls-cert and --tls-key"},
        {{"--tls-cert=", "--tls-key", "s.key"}, "--tls-cert: invalid value ''"},
        {{"--tls-cert", "s.crt", "--tls-key="}, "--tls-key: invalid value ''"},
        {{"--tls-cert", "s.crt", "--tls-key", "s.key", "--tls-client-ca="},
         "--tls-client-ca: invalid value ''"},
        {{"--tls-cert"}, "--tls-cert: missing value (see --help)"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.message);
        Config cfg;
        std::string message;
        CHECK(parse(c.args, cfg, message) == ParseOutcome::error);
        CHECK(message == c.message);
    }
}
