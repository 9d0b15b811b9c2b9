#include "proxy/stream.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/connect.hpp>
#include <openssl/err.h>

#include "tls/client_context.hpp"

namespace infergate::proxy {

namespace asio = boost::asio;
using boost::system::error_code;
using asio::ip::tcp;

// Records carry at most 16 KiB of plaintext: gather up to that, and write
// larger buffers on their own.
static constexpr size_t kRecord = 16 * 1024;

Stream::~Stream() {
    if (!ssl_) return;
    end_tls();
    SSL_free(ssl_);
}

// Marks the TLS session as cleanly ended before the SSL object goes:
// OpenSSL invalidates the session of a connection freed without a
// shutdown, and that session may be the one this worker resumes the next
// upstream connection with (or the server's cached one). Sends
// close_notify when the socket takes it now; never waits. Not after a
// fatal error, where OpenSSL forbids a shutdown.
void Stream::end_tls() {
    if (!ssl_ || tls_ended_) return;
    tls_ended_ = true;
    if (fatal_ || !SSL_is_init_finished(ssl_)) return;
    ERR_clear_error();
    if (!socket_.is_open()) SSL_set_quiet_shutdown(ssl_, 1);
    SSL_shutdown(ssl_);
    ERR_clear_error();
}

bool Stream::attach(SSL* ssl) {
    error_code ec;
    socket_.non_blocking(true, ec);
    if (ec || SSL_set_fd(ssl, socket_.native_handle()) != 1) {
        SSL_free(ssl);
        return false;
    }
    if (ssl_) SSL_free(ssl_);
    ssl_ = ssl;
    return true;
}

// The error of a failed SSL call: the first queued OpenSSL error (its
// packed code in Asio's ssl category), errno for a socket error, eof for
// a closed connection. Clears the queue: it is per thread and shared by
// every connection of this worker.
error_code Stream::ssl_failure(int ssl_error) {
    if (ssl_error == SSL_ERROR_SSL || ssl_error == SSL_ERROR_SYSCALL) fatal_ = true;
    error_code ec;
    if (ssl_error == SSL_ERROR_ZERO_RETURN) {
        ec = asio::error::eof;
    } else if (ssl_error == SSL_ERROR_SYSCALL) {
        unsigned long e = ERR_peek_error();
        if (e) ec = error_code(static_cast<int>(e), asio::error::get_ssl_category());
        else if (errno != 0 && errno != EAGAIN) ec = error_code(errno, boost::system::system_category());
        else ec = asio::error::eof;
    } else {
        unsigned long e = ERR_peek_error();
        ec = e ? error_code(static_cast<int>(e), asio::error::get_ssl_category())
               : error_code(asio::error::fault);
    }
    ERR_clear_error();
    return ec;
}

asio::awaitable<error_code> Stream::wait_for(int ssl_error) {
    error_code ec;
    // The SSL object still names the descriptor number of a closed
    // socket, which the kernel may have given to another connection.
    if (!socket_.is_open()) co_return error_code(asio::error::bad_descriptor);
    co_await socket_.async_wait(ssl_error == SSL_ERROR_WANT_WRITE ? tcp::socket::wait_write : tcp::socket::wait_read,
                                asio::redirect_error(asio::use_awaitable, ec));
    co_return ec;
}

asio::awaitable<error_code> Stream::handshake() {
    if (!ssl_) co_return error_code{};
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_do_handshake(ssl_);
        if (r == 1) co_return error_code{};
        int e = SSL_get_error(ssl_, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) co_return ssl_failure(e);
        if (error_code ec = co_await wait_for(e)) co_return ec;
    }
}

asio::awaitable<size_t> Stream::read_some(asio::mutable_buffer buf, error_code& ec) {
    ec = {};
    if (!ssl_) co_return co_await socket_.async_read_some(buf, asio::redirect_error(asio::use_awaitable, ec));
    for (;;) {
        ERR_clear_error();
        errno = 0;
        size_t n = 0;
        int r = SSL_read_ex(ssl_, buf.data(), buf.size(), &n);
        if (r == 1) co_return n;
        int e = SSL_get_error(ssl_, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            ec = ssl_failure(e);
            co_return 0;
        }
        if ((ec = co_await wait_for(e))) co_return 0;
    }
}

asio::awaitable<size_t> Stream::write_tls(const void* data, size_t size, error_code& ec) {
    const auto* p = static_cast<const unsigned char*>(data);
    size_t done = 0;
    // OpenSSL requires a write cut short after WANT_WRITE to be retried
    // with the same bytes; a deadline may instead abandon it. Any later
    // write would then carry the abandoned record's rest first, so there
    // is none: the connection is finished.
    if (write_broken_) {
        ec = asio::error::broken_pipe;
        co_return 0;
    }
    while (done < size) {
        ERR_clear_error();
        errno = 0;
        size_t n = 0;
        int r = SSL_write_ex(ssl_, p + done, size - done, &n);
        if (r == 1) {
            done += n;
            continue;
        }
        int e = SSL_get_error(ssl_, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            ec = ssl_failure(e);
            write_broken_ = true;
            co_return done;
        }
        if ((ec = co_await wait_for(e))) {
            write_broken_ = true;
            co_return done;
        }
    }
    co_return done;
}

asio::awaitable<size_t> Stream::write(std::span<const asio::const_buffer> bufs, error_code& ec) {
    ec = {};
    if (!ssl_) co_return co_await asio::async_write(socket_, bufs, asio::redirect_error(asio::use_awaitable, ec));
    size_t total = 0;
    if (!gather_) gather_ = std::make_unique<std::string>();
    std::string& gather = *gather_;
    gather.clear();
    for (const asio::const_buffer& b : bufs) {
        if (b.size() == 0) continue;
        if (gather.size() + b.size() <= kRecord) {
            gather.append(static_cast<const char*>(b.data()), b.size());
            continue;
        }
        if (!gather.empty()) {
            total += co_await write_tls(gather.data(), gather.size(), ec);
            gather.clear();
            if (ec) co_return total;
        }
        if (b.size() >= kRecord) {
            total += co_await write_tls(b.data(), b.size(), ec);
            if (ec) co_return total;
        } else {
            gather.append(static_cast<const char*>(b.data()), b.size());
        }
    }
    if (!gather.empty()) total += co_await write_tls(gather.data(), gather.size(), ec);
    gather.clear();
    co_return total;
}

asio::awaitable<size_t> Stream::write(std::string_view data, error_code& ec) {
    std::array<asio::const_buffer, 1> one{asio::buffer(data.data(), data.size())};
    co_return co_await write(one, ec);
}

void Stream::release_buffers() { gather_.reset(); }

bool Stream::has_buffered() const { return ssl_ && (SSL_pending(ssl_) > 0 || SSL_has_pending(ssl_) == 1); }

Stream::Kernel Stream::peek_kernel() {
    char c;
    const ssize_t r = ::recv(socket_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r > 0) return Kernel::bytes;
    if (r == 0) return Kernel::eof;
    return errno == EAGAIN || errno == EWOULDBLOCK ? Kernel::empty : Kernel::error;
}

Stream::Peek Stream::peek() {
    ERR_clear_error();
    errno = 0;
    char byte;
    size_t n = 0;
    int r = SSL_peek_ex(ssl_, &byte, 1, &n);
    if (r == 1) return Peek::data;
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return Peek::partial;
    ssl_failure(e);
    return Peek::gone;
}

void Stream::shutdown_send() {
    // close_notify if it fits in the socket buffer now; a peer that
    // misses it sees a plain FIN, which SSL_OP_IGNORE_UNEXPECTED_EOF
    // clients accept.
    end_tls();
    error_code ig;
    socket_.shutdown(tcp::socket::shutdown_send, ig);
}

void Stream::cancel() {
    error_code ig;
    socket_.cancel(ig);
}

void Stream::close() {
    end_tls();
    error_code ig;
    socket_.close(ig);
}

namespace {

// The outcome of a non-blocking connect that has become writable.
error_code connect_result(Socket& sock) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(sock.native_handle(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    return err ? error_code(err, asio::error::get_system_category()) : error_code{};
}

// Starts a non-blocking connect and, when the kernel has already finished
// the handshake (a replica on this host: loopback completes it inside
// connect()), reports the result at once: `done` true, ec the outcome.
// Otherwise `done` is false and the caller waits for writability. Why:
// Asio's async_connect always waits a turn of the event loop for the
// result, and on a busy worker that turn comes after every ready handler
// of every other connection (bench prompts: the requests that needed a new
// upstream connection made the request-side added-latency p99).
error_code start_connect(Socket& sock, const tcp::endpoint& ep, bool& done) {
    done = true;
    error_code ec;
    sock.open(ep.protocol(), ec);
    if (!ec) sock.non_blocking(true, ec);  // the fd stays so; every later operation is asynchronous
    if (ec) return ec;
    if (::connect(sock.native_handle(), ep.data(), static_cast<socklen_t>(ep.size())) == 0) return ec;
    if (errno != EINPROGRESS) return error_code(errno, asio::error::get_system_category());
    pollfd p{sock.native_handle(), POLLOUT, 0};
    if (::poll(&p, 1, 0) != 1) {
        done = false;
        return ec;
    }
    return connect_result(sock);
}

}  // namespace

asio::awaitable<error_code> connect_upstream(Stream& s, const std::string& host, uint16_t port,
                                             const tls::ClientTls* tls, tls::SessionSink* sink, SSL_SESSION* session,
                                             bool& tls_failed) {
    tls_failed = false;
    error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (!ec) {
        bool done = false;
        ec = start_connect(s.socket(), tcp::endpoint(addr, port), done);
        if (!done) {
            co_await s.socket().async_wait(tcp::socket::wait_write, asio::redirect_error(asio::use_awaitable, ec));
            if (!ec) ec = connect_result(s.socket());
        }
    } else {
        tcp::resolver resolver(s.socket().get_executor());
        auto results = co_await resolver.async_resolve(host, std::to_string(port),
                                                       asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) co_await asio::async_connect(s.socket(), results, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) co_return ec;
    error_code ig;
    s.socket().set_option(tcp::no_delay(true), ig);
    if (!tls) co_return ec;
    SSL* ssl = tls->new_ssl(host, sink);
    if (!ssl || !s.attach(ssl)) {
        tls_failed = true;
        co_return error_code(asio::error::no_memory);
    }
    if (session) SSL_set_session(ssl, session);
    ec = co_await s.handshake();
    tls_failed = static_cast<bool>(ec);
    co_return ec;
}

tls::Failure classify_tls_failure(const error_code& ec, bool server) {
    if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
        return tls::Failure::peer_closed;
    if (ec == asio::error::operation_aborted || ec == asio::error::timed_out) return tls::Failure::timeout;
    if (ec.category() != asio::error::get_ssl_category()) return tls::Failure::other;
    int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    switch (reason) {
        case SSL_R_HTTP_REQUEST:
        case SSL_R_HTTPS_PROXY_REQUEST:
            return tls::Failure::http_on_tls_port;
        case SSL_R_UNSUPPORTED_PROTOCOL:
        case SSL_R_WRONG_SSL_VERSION:
        case SSL_R_UNKNOWN_PROTOCOL:
        case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
            return tls::Failure::unsupported_version;
        case SSL_R_NO_SHARED_CIPHER:
        case SSL_R_NO_SHARED_GROUPS:
        case SSL_R_NO_SUITABLE_KEY_SHARE:
            return tls::Failure::no_shared_cipher;
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
            return tls::Failure::no_client_certificate;
        case SSL_R_CERTIFICATE_VERIFY_FAILED:
            return server ? tls::Failure::bad_client_certificate : tls::Failure::bad_server_certificate;
        case SSL_R_NO_APPLICATION_PROTOCOL:
        case SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL:
            return tls::Failure::no_alpn_match;
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_PACKET_LENGTH_TOO_LONG:
        case SSL_R_RECORD_LENGTH_MISMATCH:
        case SSL_R_UNEXPECTED_MESSAGE:
        case SSL_R_UNEXPECTED_RECORD:
        case SSL_R_LENGTH_MISMATCH:
        case SSL_R_BAD_PACKET_LENGTH:
        case SSL_R_BAD_EXTENSION:
        case SSL_R_UNEXPECTED_EOF_WHILE_READING:
            return tls::Failure::malformed;
        default:
            break;
    }
    // Alerts the peer sent us (e.g. a client that rejects our certificate).
    if (reason >= SSL_AD_REASON_OFFSET) return tls::Failure::peer_alert;
    return tls::Failure::other;
}

}  // namespace infergate::proxy
