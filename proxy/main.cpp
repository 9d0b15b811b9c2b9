// infergate: an LLM-aware HTTP reverse proxy with a built-in endpoint picker.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "proxy/server.hpp"

namespace {

constexpr const char* kUsage = R"(usage: infergate --config FILE [--ready-file FILE]
       infergate --check-config FILE
       infergate --version | --help

  --config FILE        run with this YAML config
  --check-config FILE  validate FILE (and every scheduler in it); print each
                       error as FILE:LINE:COL: message and exit 1, or print
                       "ok" and exit 0
  --ready-file FILE    once traffic is accepted, write the bound ports as
                       JSON to FILE: {"listeners":{"NAME":PORT,...},
                       "admin":PORT,"pid":PID}
  --version            print the version
  --help               print this help

signals: SIGHUP reloads the config (a bad one is refused and the running
config stays); SIGTERM drains (/readyz 503, listeners close, in-flight
requests finish up to timeouts.drain) and exits 0; SIGUSR1 reopens the
access log file.
)";

}  // namespace

int main(int argc, char** argv) {
    // OpenSSL writes to sockets with write(2), not send(MSG_NOSIGNAL): a
    // peer that has gone must cost one connection an EPIPE, not the
    // process a SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    infergate::proxy::ServerOptions opts;
    std::string check;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](const char* name) -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "infergate: %s needs a value\n%s", name, kUsage);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (a == "--version") {
            std::printf("infergate %s\n", INFERGATE_VERSION);
            return 0;
        } else if (a == "--config") {
            opts.config_path = value("--config");
        } else if (a == "--check-config") {
            check = value("--check-config");
        } else if (a == "--ready-file") {
            opts.ready_file = value("--ready-file");
        } else {
            std::fprintf(stderr, "infergate: unknown argument '%s'\n%s", a.c_str(), kUsage);
            return 2;
        }
    }
    if (!check.empty()) {
        std::vector<std::string> warnings;
        auto errors = infergate::proxy::check_config(check, &warnings);
        for (const auto& w : warnings) std::printf("warning: %s\n", w.c_str());
        for (const auto& e : errors) std::printf("%s\n", e.c_str());
        if (!errors.empty()) return 1;
        std::printf("ok\n");
        return 0;
    }
    if (opts.config_path.empty()) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    infergate::proxy::Server server(opts);
    return server.run();
}
