#include "proxy/admin.hpp"

#include <cmath>
#include <vector>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "proxy/http_codec.hpp"
#include "proxy/openai_body.hpp"
#include "proxy/responses.hpp"
#include "proxy/server.hpp"

namespace infergate::proxy {

namespace asio = boost::asio;
using boost::system::error_code;

static std::string finite_or_null(double v) {
    return std::isfinite(v) ? fmt::format("{}", v) : "null";
}

std::string render_debug_endpoints(const Server& server) {
    const Runtime& rt = server.runtime();
    auto now = picker::Clock::now();
    std::string out = "{\"generation\":" + std::to_string(rt.generation) + ",\"pools\":[";
    for (size_t i = 0; i < rt.pools.size(); ++i) {
        const RuntimePool& p = rt.pools[i];
        out += fmt::format("{}{{\"name\":{},\"saturation\":{},\"endpoints\":[", i ? "," : "",
                           json_quote(p.cfg->name), finite_or_null(p.picker->saturation(now)));
        const std::vector<std::string> scorers =
            p.picker->scheduler() ? picker::scorer_names(*p.picker->scheduler()) : std::vector<std::string>{};
        bool first = true;
        for (const auto& ep : p.picker->endpoints()) {
            // Each scorer's unweighted score in the last decision that scored
            // this endpoint (the first kMaxDebugScores scorers).
            std::string scores = "{";
            for (size_t k = 0; k < scorers.size() && k < picker::EndpointState::kMaxDebugScores; ++k)
                scores += fmt::format("{}{}:{}", k ? "," : "", json_quote(scorers[k]),
                                      finite_or_null(ep->last_scores[k].load(std::memory_order_relaxed)));
            scores += "}";
            auto m = ep->metrics();
            auto at = ep->scraped_at();
            std::string age = at.time_since_epoch().count() == 0
                                  ? "null"
                                  : fmt::format("{:.1f}", std::chrono::duration<double, std::milli>(now - at).count());
            out += fmt::format(
                R"({}{{"address":{},"down":{},"fresh":{},"last_scrape_ok":{},"metrics_age_ms":{},"waiting":{},"running":{},"kv_usage":{},"in_flight":{},"last_score":{},"scores":{}}})",
                first ? "" : ",", json_quote(ep->id()), ep->down.load() ? "true" : "false",
                ep->fresh(now, p.cfg->metrics_staleness) ? "true" : "false",
                ep->last_scrape_ok() ? "true" : "false", age, finite_or_null(m.waiting),
                finite_or_null(m.running), finite_or_null(m.kv_usage), ep->in_flight.load(),
                finite_or_null(ep->last_score.load()), scores);
            first = false;
        }
        out += "]}";
    }
    out += "]}";
    return out;
}

static std::string answer(int status, std::string_view type, std::string_view body, bool keep) {
    return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}\r\n{}", status,
                       reason_phrase(status), type, body.size(), keep ? "" : "Connection: close\r\n",
                       body);
}

asio::awaitable<void> serve_admin(Server& server, asio::ip::tcp::socket sock) {
    // Shared so a watchdog handler that already fired never outlives it.
    auto sp = std::make_shared<asio::ip::tcp::socket>(std::move(sock));
    asio::ip::tcp::socket& socket = *sp;
    // Admin clients are few and trusted-ish, but still bounded: 10 s per
    // request, small heads, no bodies worth keeping.
    asio::steady_timer watchdog(socket.get_executor());
    ParserLimits limits{16 * 1024, 100, 4 * 1024, 64 * 1024};
    HttpParser parser(HttpParser::Kind::request, HttpParser::BodyMode::collect, limits);
    std::vector<char> buf(8192);
    size_t begin = 0, end = 0;
    for (;;) {
        watchdog.expires_after(std::chrono::seconds(10));
        watchdog.async_wait([sp](error_code ec) {
            if (!ec) sp->close(ec);
        });
        error_code ec;
        while (!ec && !parser.message_complete() && !parser.failed()) {
            if (begin == end) {
                size_t n = co_await socket.async_read_some(asio::buffer(buf),
                                                           asio::redirect_error(asio::use_awaitable, ec));
                if (ec) break;
                begin = 0;
                end = n;
            }
            begin += parser.feed({buf.data() + begin, end - begin});
        }
        watchdog.cancel();
        if (ec) co_return;
        if (parser.failed()) {
            std::string r = error_response(parser.error_status(), parser.error_reason(), false);
            co_await asio::async_write(socket, asio::buffer(r), asio::redirect_error(asio::use_awaitable, ec));
            co_return;
        }
        const MessageHead& h = parser.head();
        bool keep = h.keep_alive;
        std::string_view path = h.url().substr(0, h.url().find('?'));
        std::string resp;
        if (path == "/healthz") {
            resp = answer(200, "application/json", R"({"status":"ok"})", keep);
        } else if (path == "/readyz") {
            resp = server.draining() ? answer(503, "application/json", R"({"status":"draining"})", keep)
                                     : answer(200, "application/json", R"({"status":"ready"})", keep);
        } else if (path == "/metrics") {
            resp = answer(200, "text/plain; version=0.0.4", render_metrics(server), keep);
        } else if (path == "/debug/endpoints") {
            resp = answer(200, "application/json", render_debug_endpoints(server), keep);
        } else {
            resp = error_response(404, "unknown admin path", keep);
        }
        watchdog.expires_after(std::chrono::seconds(10));
        watchdog.async_wait([sp](error_code e) {
            if (!e) sp->close(e);
        });
        co_await asio::async_write(socket, asio::buffer(resp), asio::redirect_error(asio::use_awaitable, ec));
        watchdog.cancel();
        if (ec || !keep) co_return;
        parser.next_message();
    }
}

}  // namespace infergate::proxy
