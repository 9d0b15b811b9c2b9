#include "bench/sim/http_server.hpp"

#include <chrono>
#include <exception>

#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include "bench/sim/control.hpp"
#include "bench/sim/http_common.hpp"

namespace infergate::sim {

using tcp = net::ip::tcp;

template <class Stream>
net::awaitable<bool> send_response(ServerState& st, Stream& stream, http::status status,
                                   std::string_view content_type, std::string body,
                                   bool keep_alive) {
    http::response<http::string_body> res{status, 11};
    if (!content_type.empty()) res.set(http::field::content_type, content_type);
    res.set("x-sim-replica", st.name);
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    tcp_layer(stream).expires_after(kWriteTimeout);
    auto [ec, n] = co_await http::async_write(stream, res, use_nothrow);
    co_return !ec && keep_alive;
}

template <class Stream>
net::awaitable<bool> send_error(ServerState& st, Stream& stream, http::status status,
                                std::string_view message, std::string_view type, bool keep_alive) {
    return send_response(st, stream, status, "application/json",
                         error_body(message, type, static_cast<int>(status)), keep_alive);
}

template net::awaitable<bool> send_response(ServerState&, PlainStream&, http::status,
                                            std::string_view, std::string, bool);
template net::awaitable<bool> send_response(ServerState&, TlsStream&, http::status,
                                            std::string_view, std::string, bool);
template net::awaitable<bool> send_error(ServerState&, PlainStream&, http::status,
                                         std::string_view, std::string_view, bool);
template net::awaitable<bool> send_error(ServerState&, TlsStream&, http::status,
                                         std::string_view, std::string_view, bool);

namespace {

constexpr std::size_t kHeaderLimit = 64 * 1024;
constexpr std::uint64_t kBodyLimit = 64ull * 1024 * 1024;
const std::string kOk = R"({"ok":true})";

struct Route {
    std::string_view path;
    http::verb method;
};
constexpr Route kRoutes[] = {
    {"/v1/completions", http::verb::post}, {"/v1/chat/completions", http::verb::post},
    {"/v1/models", http::verb::get},       {"/health", http::verb::get},
    {"/metrics", http::verb::get},         {"/sim/hold", http::verb::post},
    {"/sim/release", http::verb::post},    {"/sim/load", http::verb::post},
    {"/sim/delay", http::verb::post},      {"/sim/stats", http::verb::get},
};

double unix_now() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

// POST /sim/*: parse, apply, answer {"ok":true}.
template <class Stream>
net::awaitable<bool> handle_control(ServerState& st, Stream& stream, HttpRequest& req,
                                    std::string_view path) {
    const bool keep = req.keep_alive();
    std::string& body = req.body();
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    std::string error;
    bool ok = true;
    if (path == "/sim/hold") {
        bool hold = false;
        if ((ok = parse_hold(body, hold, error))) st.driver.set_hold(hold);
    } else if (path == "/sim/release") {
        st.driver.release();
    } else if (path == "/sim/load") {
        ok = parse_load(body, st.load, error);
    } else if (path == "/sim/delay") {
        ok = parse_delay(body, st.response_header_ms, error);
    }
    if (!ok) {
        co_return co_await send_error(st, stream, http::status::bad_request, error,
                                      "invalid_request_error", keep);
    }
    co_return co_await send_response(st, stream, http::status::ok, "application/json", kOk, keep);
}

template <class Stream>
net::awaitable<bool> route(ServerState& st, Stream& stream, HttpRequest& req) {
    const bool keep = req.keep_alive();
    std::string_view path = req.target();
    path = path.substr(0, path.find('?'));
    const Route* found = nullptr;
    for (const Route& r : kRoutes) {
        if (r.path == path) found = &r;
    }
    if (!found) {
        co_return co_await send_error(st, stream, http::status::not_found,
                                      fmt::format("Not Found: {}", path), "NotFoundError", keep);
    }
    if (req.method() != found->method) {
        co_return co_await send_error(st, stream, http::status::method_not_allowed,
                                      "Method Not Allowed", "invalid_request_error", keep);
    }
    const Engine& eng = st.driver.engine();
    if (path == "/v1/completions") co_return co_await handle_completion(st, stream, req, Api::completions);
    if (path == "/v1/chat/completions") co_return co_await handle_completion(st, stream, req, Api::chat);
    if (path == "/health") co_return co_await send_response(st, stream, http::status::ok, "", "", keep);
    if (path == "/v1/models") {
        co_return co_await send_response(st, stream, http::status::ok, "application/json",
                                         models_body(st.cfg.engine.models, st.started,
                                                     st.cfg.engine.max_model_len),
                                         keep);
    }
    if (path == "/metrics") {
        co_return co_await send_response(st, stream, http::status::ok,
                                         "text/plain; version=0.0.4; charset=utf-8",
                                         render_metrics(st.cfg.engine, eng, st.load, unix_now()), keep);
    }
    if (path == "/sim/stats") {
        const EngineCounters& c = eng.counters();
        const SimStats s{st.completion_requests, eng.num_running(), eng.num_waiting(), eng.num_held(),
                         c.completed, c.prefix_cache_hits, c.prefix_cache_queries,
                         st.cfg.engine.models, st.model_requests, st.tls_handshakes};
        co_return co_await send_response(st, stream, http::status::ok, "application/json",
                                         stats_body(s), keep);
    }
    co_return co_await handle_control(st, stream, req, path);
}

// Maps a failed request read to a status, or none if the connection should
// just close (peer closed, idle timeout).
http::status read_error_status(boost::system::error_code ec) {
    if (ec == http::error::header_limit) return http::status::request_header_fields_too_large;
    if (ec == http::error::body_limit) return http::status::payload_too_large;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::eof || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted || ec == http::error::partial_message ||
        ec == net::ssl::error::stream_truncated || ec.category() == net::error::get_ssl_category()) {
        return http::status::unknown;  // a TLS error leaves nothing to answer on
    }
    return http::status::bad_request;
}

// The HTTP/1.1 request loop, the same for plain and TLS connections.
// Returns when the connection should close.
template <class Stream>
net::awaitable<void> serve(ServerState& st, Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(kHeaderLimit);
        parser.body_limit(kBodyLimit);
        tcp_layer(stream).expires_after(kIdleTimeout);
        auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_nothrow);
        if (!ec && parser.get()[http::field::expect] == "100-continue") {
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            auto [wec, wn] = co_await net::async_write(stream, net::buffer(kContinue), use_nothrow);
            ec = wec;
        }
        if (!ec && !parser.is_done()) {
            tcp_layer(stream).expires_after(kBodyTimeout);
            std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, use_nothrow);
        }
        if (ec) {
            const http::status status = read_error_status(ec);
            if (status != http::status::unknown) {
                co_await send_error(st, stream, status, ec.message(), "invalid_request_error", false);
            }
            co_return;
        }
        tcp_layer(stream).expires_never();  // handlers set their own write deadlines
        HttpRequest req = parser.release();
        if (!co_await route(st, stream, req)) co_return;
    }
}

void shutdown_send(beast::tcp_stream& tcp) {
    boost::system::error_code ignored;
    tcp.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> plain_session(ServerState& st, tcp::socket socket) {
    PlainStream stream(std::move(socket));
    co_await serve(st, stream);
    shutdown_send(stream);
}

// TLS: handshake under its own deadline; a failed one is counted, logged
// and ends this connection only. After the HTTP loop, close_notify (and
// a bounded wait for the peer's) before the TCP FIN.
net::awaitable<void> tls_session(ServerState& st, tcp::socket socket) {
    TlsStream stream(std::move(socket), *st.tls);
    tcp_layer(stream).expires_after(kHandshakeTimeout);
    auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, use_nothrow);
    if (ec) {
        ++st.tls_handshakes.failed;
        boost::system::error_code peer_ec;
        const auto peer = tcp_layer(stream).socket().remote_endpoint(peer_ec);
        fmt::print(stderr, "infergate-sim: TLS handshake with {}:{} failed: {}\n",
                   peer.address().to_string(), peer.port(), ec.message());
        co_return;  // the socket closes with the stream
    }
    if (SSL_session_reused(stream.native_handle())) {
        ++st.tls_handshakes.resumed;
    } else {
        ++st.tls_handshakes.full;
    }
    co_await serve(st, stream);
    tcp_layer(stream).expires_after(kTlsShutdownTimeout);
    co_await stream.async_shutdown(use_nothrow);
    shutdown_send(tcp_layer(stream));
}

net::awaitable<void> session(ServerState& st, tcp::socket socket) {
    if (st.tls) {
        co_await tls_session(st, std::move(socket));
    } else {
        co_await plain_session(st, std::move(socket));
    }
}

net::awaitable<void> accept_loop(ServerState& st, tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
        if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) continue;  // e.g. EMFILE: drop this one, keep serving
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);  // one SSE event = one segment, now
        net::co_spawn(acceptor.get_executor(), session(st, std::move(socket)),
                      [](std::exception_ptr e) {
                          if (!e) return;
                          try {
                              std::rethrow_exception(e);
                          } catch (const std::exception& x) {
                              fmt::print(stderr, "infergate-sim: connection error: {}\n", x.what());
                          }
                      });
    }
}

}  // namespace

HttpServer::HttpServer(net::io_context& ioc, const Config& cfg,
                       std::unique_ptr<net::ssl::context> tls)
    : ioc_(ioc), acceptor_(ioc),
      state_(std::make_unique<ServerState>(ioc.get_executor(), cfg, std::move(tls))) {}

HttpServer::~HttpServer() = default;

boost::system::error_code HttpServer::listen(tcp::endpoint& bound) {
    boost::system::error_code ec;
    const std::string& host = state_->cfg.host;
    const auto addr = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) return ec;
    const tcp::endpoint ep(addr, state_->cfg.port);
    // With BOOST_ASIO_NO_DEPRECATED these return void: check ec after each.
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (!ec) bound = acceptor_.local_endpoint(ec);
    return ec;
}

void HttpServer::set_name(std::string name) { state_->name = std::move(name); }

void HttpServer::start() {
    net::co_spawn(ioc_, accept_loop(*state_, acceptor_), [](std::exception_ptr) {});
}

void HttpServer::stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
}

}  // namespace infergate::sim
