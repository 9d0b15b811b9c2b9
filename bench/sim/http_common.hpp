// Internal to the simulator's HTTP server: the state every handler
// shares and the helpers both http_server.cpp and completion.cpp use.
//
// Handlers are templates over the connection's stream, PlainStream or
// TlsStream: one HTTP code path for both. They are defined in the .cpp
// files and explicitly instantiated there for exactly these two types.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "bench/sim/config.hpp"
#include "bench/sim/control.hpp"
#include "bench/sim/driver.hpp"
#include "bench/sim/metrics.hpp"
#include "bench/sim/openai.hpp"

namespace infergate::sim {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

using HttpRequest = http::request<http::string_body>;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// The TCP layer under either stream: deadlines and the raw socket (peer
// watching) live there.
template <class Stream>
beast::tcp_stream& tcp_layer(Stream& stream) {
    return beast::get_lowest_layer(stream);
}
// Completion tokens as values: no exceptions cross the Asio boundary.
inline constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

// Deadlines (real time). The idle one matches vLLM's HTTP server.
inline constexpr auto kIdleTimeout = std::chrono::seconds(5);
inline constexpr auto kBodyTimeout = std::chrono::seconds(60);
inline constexpr auto kWriteTimeout = std::chrono::seconds(30);
inline constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// Waiting for the peer's close_notify after ours; then the socket closes.
inline constexpr auto kTlsShutdownTimeout = std::chrono::seconds(2);

// Everything handlers share; owned by HttpServer, used on its one thread.
struct ServerState {
    ServerState(const net::any_io_executor& ex, const Config& c,
                std::unique_ptr<net::ssl::context> tls_context)
        : cfg(c), tls(std::move(tls_context)), driver(ex, c.engine, c.time_scale),
          model_requests(c.engine.models.size(), 0), started(std::time(nullptr)) {}

    Config cfg;
    std::unique_ptr<net::ssl::context> tls;  // null: plain HTTP
    TlsCounters tls_handshakes;
    std::string name;  // x-sim-replica
    EngineDriver driver;
    LoadOverride load;
    std::uint32_t response_header_ms = 0;
    std::uint64_t completion_requests = 0;  // every POST to a completion path
    std::vector<std::uint64_t> model_requests;  // per cfg.engine.models entry, requests naming it
    std::int64_t started;
};

// Writes a complete response. Returns whether the connection stays open.
template <class Stream>
net::awaitable<bool> send_response(ServerState& st, Stream& stream, http::status status,
                                   std::string_view content_type, std::string body,
                                   bool keep_alive);

template <class Stream>
net::awaitable<bool> send_error(ServerState& st, Stream& stream, http::status status,
                                std::string_view message, std::string_view type, bool keep_alive);

// POST /v1/completions and /v1/chat/completions.
template <class Stream>
net::awaitable<bool> handle_completion(ServerState& st, Stream& stream, HttpRequest& req, Api api);

}  // namespace infergate::sim
