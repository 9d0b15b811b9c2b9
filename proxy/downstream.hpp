// One client connection, from accept to close, on one worker.
//
// Memory: an idle keep-alive connection is parked: it holds its socket, one
// timer and this object (and, over TLS, its SSL object with buffers
// released), but no read buffer and no coroutine frame. It
// waits on socket.async_wait(wait_read); when bytes arrive, serve() runs
// as a coroutine that owns the read buffer and the parser, answers every
// request the bytes carry (pipelined ones in order), and returns, parking
// the connection again. Over TLS it parks only when OpenSSL holds no
// bytes already read (a pipelined request there would never wake it).
//
// TLS: the handshake runs at the start of the first serve(), under the
// listener's handshake_timeout; the rest is the same code over Stream.
//
// Deadlines: one timer per connection enforces whichever deadline the
// current phase has (header read, body read, idle, upstream connect,
// upstream response header, stream idle, write). When it fires it cancels
// the pending socket operations (downstream and the active upstream one);
// the coroutine sees `timed_out_` and answers 408/504 or closes.
//
// One readable-wait: Asio's async_wait re-registers the socket with epoll
// (EPOLL_CTL_MOD, a system call) every time it is started. The wait that
// watches for a client hang-up while the upstream answers therefore stays
// pending after the response and becomes the park wait: one wait per
// request, not two. Its handler (on_wait) acts on the state it finds:
// parked (serve), watching (hang-up check), otherwise it only notes that
// bytes came (`maybe_readable_`), checked with a peek at the next park.
// Its operation, and the timer's, are allocated at their exact size, not
// from Asio's per-thread recycling cache (downstream.cpp, ExactAllocator).
//
// Lifetime: shared_ptr, held by whichever handler is pending (the park
// wait, the coroutine, the timer). Only this worker's thread touches it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "proxy/stream.hpp"
#include "proxy/worker.hpp"
#include "tls/server_context.hpp"

namespace infergate::proxy {

class HttpParser;
class MessageHead;
struct RequestCtx;
struct UpstreamConn;

class DownstreamConn : public std::enable_shared_from_this<DownstreamConn> {
public:
    // `tls` null: a plain HTTP listener.
    DownstreamConn(Worker& w, Socket socket, std::shared_ptr<const tls::ServerTls> tls);
    ~DownstreamConn();
    DownstreamConn(const DownstreamConn&) = delete;
    DownstreamConn& operator=(const DownstreamConn&) = delete;

    void start();
    // Drain: close now if parked; an active connection closes after its
    // current response (it answers with Connection: close).
    void close_if_idle();

private:
    enum class Phase {
        idle, handshake, header, body, upstream_connect, upstream_header, stream, write
    };
    using Clock = std::chrono::steady_clock;

    void park();
    // Starts the readable-wait unless one is pending (see the header comment).
    void wait_readable();
    void on_wait(boost::system::error_code ec);
    void on_readable(boost::system::error_code ec);
    void close();
    // Close after an answer that may leave unread request bytes: FIN,
    // then discard input for a bounded time so the kernel does not reset
    // the connection (and lose the answer) on close.
    boost::asio::awaitable<void> lingering_close();

    // Deadline handling (one timer, see the header comment). Returns the
    // clock reading the deadline was computed from, for callers that need
    // "now" too (a clock read saved on the request path).
    Clock::time_point arm(Phase phase, std::chrono::milliseconds d);
    void wait_timer();
    void on_timer(boost::system::error_code ec, uint64_t gen);

    boost::asio::awaitable<void> serve();
    // False: the handshake failed (counted, connection closed).
    boost::asio::awaitable<bool> tls_handshake();
    // Answers one complete request; returns whether to keep the connection.
    boost::asio::awaitable<bool> handle(HttpParser& parser);
    boost::asio::awaitable<bool> forward(RequestCtx& rq, std::string& body);
    enum class Exchange { done_keep, done_close, retry_fresh, failed };
    boost::asio::awaitable<Exchange> exchange(RequestCtx& rq, UpstreamConn& uc,
                                              const std::string& head, const std::string& body);
    boost::asio::awaitable<std::unique_ptr<UpstreamConn>> connect(RequestCtx& rq, boost::system::error_code& ec,
                                                                  bool& tls_failed);
    boost::asio::awaitable<bool> respond(RequestCtx& rq, int status, std::string_view message,
                                         std::string_view extra_headers = {});
    boost::asio::awaitable<boost::system::error_code> write(std::string_view data);

    // While waiting on the upstream, notice a client that hangs up, and
    // cancel the upstream request with it (readable + peek of 0 bytes).
    void watch_client();
    void on_client_readable(boost::system::error_code ec);
    void unwatch_client();

    std::string upstream_head(RequestCtx& rq, size_t body_size) const;
    void finish(RequestCtx& rq);

    Worker& w_;
    // Before stream_: the SNI callback and ticket keys it points at must
    // outlive the SSL object.
    std::shared_ptr<const tls::ServerTls> tls_;  // the listener's, as of accept
    Stream stream_;
    // The io_context's own executor, not any_io_executor: the timer and its
    // pending operation are ~50 bytes smaller each, per connection.
    boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                      boost::asio::wait_traits<std::chrono::steady_clock>,
                                      boost::asio::io_context::executor_type>
        timer_;
    Clock::time_point deadline_{};
    Clock::time_point timer_expiry_{};
    uint64_t timer_gen_ = 0;
    bool timer_pending_ = false;
    Phase phase_ = Phase::idle;
    bool timed_out_ = false;
    bool parked_ = false;
    bool closed_ = false;
    bool watching_ = false;
    bool wait_pending_ = false;    // the readable-wait is outstanding
    bool maybe_readable_ = false;  // it fired while serving: bytes may wait
    bool client_gone_ = false;
    bool handshake_done_ = false;
    bool first_read_ = true;
    // mTLS only (a pointer: every other connection pays 8 bytes, not 48).
    struct ClientCert {
        std::string_view header;  // tls_'s client_subject_header
        std::string subject;      // the verified client certificate's subject, or ""
    };
    std::unique_ptr<ClientCert> client_cert_;
    Socket* upstream_ = nullptr;  // active upstream, for cancellation
    std::string peer_ip_;
};

}  // namespace infergate::proxy
