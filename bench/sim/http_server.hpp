// The simulator's HTTP/1.1 server (Boost.Beast over Asio, C++20
// coroutines): one coroutine owns each connection, keep-alive with vLLM's
// 5 s idle timeout, requests handled one at a time per connection.
// Plain HTTP, or HTTPS on every connection when given a TLS context.
// Runs on the caller's single-threaded io_context together with the
// engine driver.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "bench/sim/config.hpp"

namespace infergate::sim {

struct ServerState;

class HttpServer {
public:
    // tls: null for plain HTTP; otherwise every connection does a TLS
    // handshake with it first (see tls.hpp).
    HttpServer(boost::asio::io_context& ioc, const Config& cfg,
               std::unique_ptr<boost::asio::ssl::context> tls);
    ~HttpServer();

    // Binds cfg.host:cfg.port (0 = any free port) and listens. On success
    // `bound` holds the address actually bound. Start-up only.
    boost::system::error_code listen(boost::asio::ip::tcp::endpoint& bound);

    // Replica name for the x-sim-replica header.
    void set_name(std::string name);

    // Starts accepting connections (after listen()).
    void start();

    // Stops accepting. Open connections end when the io_context stops.
    void stop();

private:
    boost::asio::io_context& ioc_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::unique_ptr<ServerState> state_;
};

}  // namespace infergate::sim
