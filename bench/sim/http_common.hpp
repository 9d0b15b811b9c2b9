// Internal to the simulator's HTTP server: the state every handler
// shares and the helpers both http_server.cpp and completion.cpp use.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "bench/sim/config.hpp"
#include "bench/sim/driver.hpp"
#include "bench/sim/metrics.hpp"
#include "bench/sim/openai.hpp"

namespace infergate::sim {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

using HttpRequest = http::request<http::string_body>;
// Completion tokens as values: no exceptions cross the Asio boundary.
inline constexpr auto use_nothrow = net::as_tuple(net::use_awaitable);

// Deadlines (real time). The idle one matches vLLM's HTTP server.
inline constexpr auto kIdleTimeout = std::chrono::seconds(5);
inline constexpr auto kBodyTimeout = std::chrono::seconds(60);
inline constexpr auto kWriteTimeout = std::chrono::seconds(30);

// Everything handlers share; owned by HttpServer, used on its one thread.
struct ServerState {
    ServerState(const net::any_io_executor& ex, const Config& c)
        : cfg(c), driver(ex, c.engine, c.time_scale),
          model_requests(c.engine.models.size(), 0), started(std::time(nullptr)) {}

    Config cfg;
    std::string name;  // x-sim-replica
    EngineDriver driver;
    LoadOverride load;
    std::uint32_t response_header_ms = 0;
    std::uint64_t completion_requests = 0;  // every POST to a completion path
    std::vector<std::uint64_t> model_requests;  // per cfg.engine.models entry, requests naming it
    std::int64_t started;
};

// Writes a complete response. Returns whether the connection stays open.
net::awaitable<bool> send_response(ServerState& st, beast::tcp_stream& stream,
                                   http::status status, std::string_view content_type,
                                   std::string body, bool keep_alive);

net::awaitable<bool> send_error(ServerState& st, beast::tcp_stream& stream, http::status status,
                                std::string_view message, std::string_view type, bool keep_alive);

// POST /v1/completions and /v1/chat/completions.
net::awaitable<bool> handle_completion(ServerState& st, beast::tcp_stream& stream,
                                       HttpRequest& req, Api api);

}  // namespace infergate::sim
