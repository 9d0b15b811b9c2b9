// infergate-sim: a vLLM stand-in for routing experiments. See README.md.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>

#include "bench/sim/config.hpp"
#include "bench/sim/http_server.hpp"
#include "bench/sim/tls.hpp"

namespace {

// Writes {"port": N, "pid": P} to `path` atomically (tmp file + rename), so
// a test polling for the file never reads half of it.
bool write_ready_file(const std::string& path, unsigned port) {
    const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << fmt::format("{{\"port\": {}, \"pid\": {}}}\n", port, ::getpid());
        if (!out.flush()) return false;
    }
    return std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::string format_host_port(const boost::asio::ip::tcp::endpoint& ep) {
    const auto addr = ep.address();
    return addr.is_v6() ? fmt::format("[{}]:{}", addr.to_string(), ep.port())
                        : fmt::format("{}:{}", addr.to_string(), ep.port());
}

}  // namespace

int main(int argc, char** argv) {
    using infergate::sim::ParseOutcome;
    infergate::sim::Config cfg;
    std::string message;
    switch (infergate::sim::parse_args(argc, argv, cfg, message)) {
        case ParseOutcome::help:
            fmt::print("{}", message);
            return 0;
        case ParseOutcome::error:
            fmt::print(stderr, "infergate-sim: {}\n", message);
            return 2;
        case ParseOutcome::run:
            break;
    }
    std::signal(SIGPIPE, SIG_IGN);

    // One thread: the engine and every connection share this io_context.
    boost::asio::io_context ioc{1};
    std::unique_ptr<boost::asio::ssl::context> tls;
    if (!cfg.tls_cert.empty()) {
        std::string error;
        tls = infergate::sim::make_tls_context(cfg, error);
        if (!tls) {
            fmt::print(stderr, "infergate-sim: {}\n", error);
            return 1;
        }
    }
    infergate::sim::HttpServer server(ioc, cfg, std::move(tls));
    boost::asio::ip::tcp::endpoint bound;
    if (auto ec = server.listen(bound)) {
        fmt::print(stderr, "infergate-sim: cannot listen on {}:{}: {}\n", cfg.host, cfg.port, ec.message());
        return 1;
    }
    const std::string host_port = format_host_port(bound);
    server.set_name(cfg.name.empty() ? host_port : cfg.name);

    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int) {
        if (ec) return;
        server.stop();
        ioc.stop();
    });
    server.start();
    fmt::print(stderr, "infergate-sim: listening on {}\n", host_port);
    if (!cfg.ready_file.empty() && !write_ready_file(cfg.ready_file, bound.port())) {
        fmt::print(stderr, "infergate-sim: cannot write ready file {}\n", cfg.ready_file);
        return 1;
    }
    ioc.run();
    return 0;
}
