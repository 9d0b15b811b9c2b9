// Per-worker keep-alive connections to model-server endpoints, plain or
// TLS, and the last TLS session of each endpoint for resumption.
//
// Owned and used by one worker only (no locking). An idle connection holds
// no buffer and no pending operation: when it is taken after more than a
// second idle (or over TLS), a non-blocking peek tells whether the server
// closed it meanwhile. Connections idle
// longer than the pool's idle timeout (default 4 s, below vLLM's 5 s) are
// closed by a periodic sweep, so we never reuse one the server is about
// to drop.
//
// A pooled connection is only reused under the same TLS client context it
// was opened with (a reload that changes a pool's `tls` starts afresh).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "proxy/stream.hpp"
#include "tls/client_context.hpp"

namespace infergate::proxy {

class UpstreamPool;

struct UpstreamConn final : tls::SessionSink {
    UpstreamConn(boost::asio::io_context& ioc, UpstreamPool& pool) : pool(pool), stream(Socket(ioc)) {}
    void on_new_session(SSL* ssl, SSL_SESSION* session) override;

    // Declared before `stream`, so they outlive its SSL object.
    UpstreamPool& pool;
    std::string endpoint;  // EndpointState::id()
    std::shared_ptr<const tls::ClientTls> tls;  // null: plain TCP
    Stream stream;
    std::chrono::steady_clock::time_point idle_since;
    bool reused = false;   // taken from the pool (may have been closed by the peer)
};

class UpstreamPool {
public:
    explicit UpstreamPool(boost::asio::io_context& ioc);
    ~UpstreamPool();

    // A live idle connection to `endpoint` speaking `tls` (null: plain), or null.
    // `now`: the caller's clock reading (one per request).
    std::unique_ptr<UpstreamConn> take(const std::string& endpoint, const tls::ClientTls* tls,
                                       std::chrono::steady_clock::time_point now);
    void give_back(std::unique_ptr<UpstreamConn> conn);
    void set_idle_timeout(std::chrono::milliseconds t) { idle_timeout_ = t; }
    void start_sweeping();
    void close_all();
    size_t idle_count() const;

    // The last TLS session `endpoint` gave under `tls` (null: none), as a
    // reference of the caller's own.
    tls::SslSessionRef session(const std::string& endpoint, const tls::ClientTls* tls) const;
    void save_session(const std::string& endpoint, std::shared_ptr<const tls::ClientTls> tls, SSL_SESSION* s);

private:
    void sweep();
    boost::asio::io_context& ioc_;
    boost::asio::steady_timer sweep_timer_;
    std::chrono::milliseconds idle_timeout_{4000};
    std::unordered_map<std::string, std::vector<std::unique_ptr<UpstreamConn>>> idle_;
    struct Saved {
        std::shared_ptr<const tls::ClientTls> tls;
        tls::SslSessionRef session;
    };
    // Per endpoint, one slot per TLS client context (pools that share an
    // endpoint with different `tls` settings keep theirs apart).
    std::unordered_map<std::string, std::vector<Saved>> sessions_;
    bool stopped_ = false;
};

}  // namespace infergate::proxy
