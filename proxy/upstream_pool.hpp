// Per-worker keep-alive connections to model-server endpoints.
//
// Owned and used by one worker only (no locking). An idle connection holds
// no buffer and no pending operation: when it is taken, a non-blocking
// peek tells whether the server closed it meanwhile. Connections idle
// longer than the pool's idle timeout (default 4 s, below vLLM's 5 s) are
// closed by a periodic sweep, so we never reuse one the server is about
// to drop.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace infergate::proxy {

struct UpstreamConn {
    explicit UpstreamConn(boost::asio::io_context& ioc) : socket(ioc) {}
    boost::asio::ip::tcp::socket socket;
    std::string endpoint;  // EndpointState::id()
    std::chrono::steady_clock::time_point idle_since;
    bool reused = false;   // taken from the pool (may have been closed by the peer)
};

class UpstreamPool {
public:
    explicit UpstreamPool(boost::asio::io_context& ioc);

    // A live idle connection to `endpoint`, or null.
    std::unique_ptr<UpstreamConn> take(const std::string& endpoint);
    void give_back(std::unique_ptr<UpstreamConn> conn);
    void set_idle_timeout(std::chrono::milliseconds t) { idle_timeout_ = t; }
    void start_sweeping();
    void close_all();
    size_t idle_count() const;

private:
    void sweep();
    boost::asio::io_context& ioc_;
    boost::asio::steady_timer sweep_timer_;
    std::chrono::milliseconds idle_timeout_{4000};
    std::unordered_map<std::string, std::vector<std::unique_ptr<UpstreamConn>>> idle_;
    bool stopped_ = false;
};

}  // namespace infergate::proxy
