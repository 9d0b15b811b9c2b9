#include "proxy/scraper.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <vector>

#include "picker/prom_text.hpp"
#include "proxy/http_codec.hpp"
#include "proxy/log.hpp"
#include "proxy/stream.hpp"
#include "tls/client_context.hpp"

namespace infergate::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

struct Scraper::Target final : tls::SessionSink {
    // The scraper resumes its TLS sessions too: one per endpoint.
    void on_new_session(SSL*, SSL_SESSION* s) override {
        if (SSL_SESSION_is_resumable(s)) session = tls::share(s);
    }
    std::shared_ptr<picker::EndpointState> ep;
    std::string path;
    config::Engine engine;
    std::chrono::milliseconds interval;
    std::chrono::milliseconds timeout;
    bool stopped = false;
    std::shared_ptr<const tls::ClientTls> tls;  // null: plain HTTP
    tls::SslSessionRef session;
    std::shared_ptr<Stream> sock;
    std::unique_ptr<asio::steady_timer> timer;
    asio::io_context* ioc = nullptr;  // the scraper's (sockets are made on it)
    std::string settings_key;
};

// Largest metrics page accepted (vLLM's is a few tens of KiB).
static constexpr uint64_t kMaxMetricsBytes = 8 * 1024 * 1024;

// One GET of the metrics page; returns the body or an error.
static asio::awaitable<error_code> scrape_once(Scraper::Target& t, std::string& body) {
    error_code ec;
    const config::Address& a = t.ep->config().address;
    // The watchdog closes the socket when the scrape overruns its time.
    asio::steady_timer watchdog(t.timer->get_executor());
    if (!t.sock || !t.sock->socket().is_open()) {
        t.sock = std::make_shared<Stream>(Socket(*t.ioc));
        watchdog.expires_after(t.timeout);
        watchdog.async_wait([s = t.sock](error_code e) {
            if (!e) s->close();
        });
        bool tls_failed = false;
        tls::SslSessionRef resume = tls::share(t.session.get());
        ec = co_await connect_upstream(*t.sock, a.host, a.port, t.tls.get(), &t, resume.get(), tls_failed);
        if (tls_failed && ec && ec != asio::error::operation_aborted)
            log_warn("scrape of {}: TLS handshake failed: {}", t.ep->id(), ec.message());
        watchdog.cancel();
        if (ec) {
            t.sock.reset();
            co_return ec;
        }
    }
    watchdog.expires_after(t.timeout);
    watchdog.async_wait([s = t.sock](error_code e) {
        if (!e) s->close();
    });
    std::string req = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/plain\r\nUser-Agent: infergate-scraper\r\n\r\n",
                                  t.path, t.ep->id());
    co_await t.sock->write(req, ec);
    ParserLimits limits{64 * 1024, 100, 8 * 1024, kMaxMetricsBytes};
    HttpParser p(HttpParser::Kind::response, HttpParser::BodyMode::collect, limits);
    std::vector<char> buf(16 * 1024);
    while (!ec && !p.message_complete() && !p.failed()) {
        size_t n = co_await t.sock->read_some(asio::buffer(buf), ec);
        if (ec == asio::error::eof) {
            p.finish();
            ec = p.message_complete() ? error_code{} : asio::error::eof;
            break;
        }
        if (!ec) p.feed({buf.data(), n});
    }
    watchdog.cancel();
    if (!ec && (p.failed() || p.head().status != 200)) ec = asio::error::fault;
    if (ec || !p.head().keep_alive) {
        t.sock->close();
        t.sock.reset();
    }
    if (!ec) body = std::move(p.body());
    co_return ec;
}

static asio::awaitable<void> scrape_loop(std::shared_ptr<Scraper::Target> t) {
    std::string body;
    while (!t->stopped) {
        auto started = Clock::now();
        error_code ec = co_await scrape_once(*t, body);
        if (t->stopped) break;
        auto now = Clock::now();
        if (!ec) {
            auto parsed = picker::parse_prometheus_text(body);
            auto m = picker::extract_engine_metrics(parsed, t->engine);
            if (m) {
                t->ep->publish(*m, now);
                t->ep->down.store(false, std::memory_order_relaxed);
            } else {
                t->ep->scrape_failed(now);
            }
        } else {
            t->ep->scrape_failed(now);
            if (ec == asio::error::connection_refused)
                t->ep->down.store(true, std::memory_order_relaxed);
        }
        // Fixed cadence from the start of each scrape, not from its end.
        t->timer->expires_at(started + t->interval);
        error_code tec;
        co_await t->timer->async_wait(asio::redirect_error(asio::use_awaitable, tec));
    }
    if (t->sock) t->sock->close();
}

void Scraper::update(const Runtime& rt) {
    std::map<std::string, std::shared_ptr<Target>> next;
    for (const RuntimePool& p : rt.pools) {
        for (const auto& ep : p.picker->endpoints()) {
            std::string key = p.cfg->name + '\0' + ep->id();
            std::string settings = fmt::format("{}|{}|{}|{}|{}", static_cast<const void*>(ep.get()),
                                               p.cfg->metrics_path, static_cast<int>(p.cfg->engine),
                                               p.cfg->scrape_interval.count(), static_cast<const void*>(p.tls.get()));
            auto it = targets_.find(key);
            if (it != targets_.end() && it->second->settings_key == settings) {
                next[key] = it->second;
                continue;
            }
            auto t = std::make_shared<Target>();
            t->ep = ep;
            t->path = p.cfg->metrics_path;
            t->engine = p.cfg->engine;
            t->tls = p.tls;
            t->interval = p.cfg->scrape_interval;
            // A scrape may take at most the staleness window: after that its
            // answer would be stale on arrival anyway.
            t->timeout = std::max(p.cfg->metrics_staleness, std::chrono::milliseconds(100));
            t->timer = std::make_unique<asio::steady_timer>(ioc_);
            t->ioc = &ioc_;
            t->settings_key = settings;
            next[key] = t;
            asio::co_spawn(ioc_, scrape_loop(t), asio::detached);
        }
    }
    for (auto& [k, t] : targets_) {
        auto it = next.find(k);
        if (it == next.end() || it->second != t) {
            t->stopped = true;
            t->timer->cancel();
            if (t->sock) t->sock->cancel();
        }
    }
    targets_ = std::move(next);
}

void Scraper::stop() {
    for (auto& [k, t] : targets_) {
        t->stopped = true;
        t->timer->cancel();
        if (t->sock) t->sock->close();
    }
    targets_.clear();
}

Scraper::~Scraper() { stop(); }

}  // namespace infergate::proxy
