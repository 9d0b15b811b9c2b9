// One connection's byte stream, plain TCP or TLS, behind one interface, so
// that the HTTP code (downstream.cpp, forward.cpp, scraper.cpp) exists
// once for both.
//
// TLS runs OpenSSL directly on the socket's descriptor (non-blocking, as
// HAProxy and nginx do) rather than through Asio's ssl::stream and its
// memory BIOs: records go straight between the kernel and OpenSSL, with
// no extra copy. When OpenSSL wants bytes or room it reports WANT_READ /
// WANT_WRITE and the coroutine waits for readiness on the socket; the
// connection's deadline timer cancels that wait like any other.
//
// Writes over TLS gather small buffers (a chunk header, an SSE event)
// into one record instead of one record each.
//
// Not thread-safe: one connection, one worker.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <openssl/ssl.h>

#include "tls/failure.hpp"

namespace infergate::tls {
class ClientTls;
class SessionSink;
}

namespace infergate::proxy {

// A TCP socket on the io_context's own executor rather than Asio's default
// any_io_executor (a type-erased 56-byte executor): the socket and every
// operation pending on it carry 8 bytes instead, which is ~100 bytes off
// each idle connection, and completions skip the type-erased dispatch.
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

class Stream {
public:
    explicit Stream(Socket socket) : socket_(std::move(socket)) {}
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    Socket& socket() { return socket_; }
    bool is_tls() const { return ssl_ != nullptr; }
    SSL* ssl() const { return ssl_; }
    // Takes ownership of `ssl` (already in accept or connect state) and
    // binds it to the socket. False if the socket cannot be non-blocking.
    bool attach(SSL* ssl);

    // TLS: runs the handshake. Plain: nothing.
    boost::asio::awaitable<boost::system::error_code> handshake();
    // Reads what is available (at least one byte) into `buf`; eof as
    // asio::error::eof.
    boost::asio::awaitable<size_t> read_some(boost::asio::mutable_buffer buf, boost::system::error_code& ec);
    // Writes every byte of `bufs`; returns how many were written.
    boost::asio::awaitable<size_t> write(std::span<const boost::asio::const_buffer> bufs,
                                         boost::system::error_code& ec);
    boost::asio::awaitable<size_t> write(std::string_view data, boost::system::error_code& ec);

    // TLS: whether OpenSSL holds bytes already read from the socket
    // (decrypted or not). A connection must not wait on the socket for a
    // request that is already here.
    bool has_buffered() const;
    // Frees the write gather buffer (up to a record, 16 KiB) while the
    // connection idles; it is kept across the writes of one response.
    void release_buffers();
    // TLS, when the socket is readable while no read is pending: whether
    // the peer has sent request bytes (kept for the next read_some), is
    // gone (close_notify, an error), or sent only part of a record. TLS
    // 1.3 encrypts alerts, so the socket's bytes alone cannot tell.
    enum class Peek { data, gone, partial };
    Peek peek();
    // What the kernel holds for this socket, without reading or waiting
    // (recv MSG_PEEK|MSG_DONTWAIT of one byte): bytes, the peer's FIN, an
    // error, or nothing yet. Raw bytes: over TLS they are records.
    enum class Kernel { bytes, eof, error, empty };
    Kernel peek_kernel();
    // Sends close_notify (TLS, best effort, never waits), then FIN.
    void shutdown_send();
    void cancel();
    void close();

private:
    boost::asio::awaitable<boost::system::error_code> wait_for(int ssl_error);
    boost::system::error_code ssl_failure(int ssl_error);
    void end_tls();
    boost::asio::awaitable<size_t> write_tls(const void* data, size_t size, boost::system::error_code& ec);

    Socket socket_;
    SSL* ssl_ = nullptr;
    bool fatal_ = false;      // a fatal TLS error: no close_notify
    bool tls_ended_ = false;  // shutdown done (or not to be done)
    bool write_broken_ = false;  // a TLS write was abandoned midway
    // TLS: small buffers joined into one record. Behind a pointer: a plain
    // or idle connection pays 8 bytes for it, not 32.
    std::unique_ptr<std::string> gather_;
};

// Connects `s` to host:port (resolving a name; the first address that
// answers wins) and, with `tls`, runs the client handshake, resuming
// `session` when given. `tls_failed` tells a failed handshake from a
// failed connect. The caller's deadline cancels it through s.cancel().
boost::asio::awaitable<boost::system::error_code> connect_upstream(Stream& s, const std::string& host, uint16_t port,
                                                                   const tls::ClientTls* tls, tls::SessionSink* sink,
                                                                   SSL_SESSION* session, bool& tls_failed);

// Classifies a handshake error returned by Stream::handshake().
tls::Failure classify_tls_failure(const boost::system::error_code& ec, bool server);

}  // namespace infergate::proxy
