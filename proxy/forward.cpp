// The upstream half of a request: pick an endpoint, take or open a
// keep-alive connection to it, send the request, and stream the response
// back to the client as it arrives.

#include <array>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <iterator>

#include "proxy/downstream.hpp"
#include "proxy/http_codec.hpp"
#include "proxy/io_buffer.hpp"
#include "proxy/log.hpp"
#include "proxy/request_ctx.hpp"
#include "proxy/responses.hpp"
#include "proxy/usage_scan.hpp"

namespace infergate::proxy {

namespace asio = boost::asio;
using boost::system::error_code;
using asio::ip::tcp;

static constexpr size_t kUpstreamReadChunk = IoBuffer::kSize;

// Hop-by-hop fields (RFC 9110 7.6.1) and fields the proxy sets itself.
static bool is_hop_by_hop(std::string_view n) {
    static constexpr std::string_view hop[] = {"connection", "keep-alive", "proxy-connection",
                                               "te", "trailer", "transfer-encoding", "upgrade"};
    for (auto h : hop)
        if (iequals(n, h)) return true;
    return false;
}

// Fields named by the Connection header (its value, looked up once per
// message by the caller) are hop-by-hop too.
static bool listed_in_connection(std::string_view v, std::string_view name) {
    while (!v.empty()) {
        size_t comma = v.find(',');
        std::string_view tok = v.substr(0, comma);
        while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
        while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
        if (iequals(tok, name)) return true;
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
    }
    return false;
}

static bool is_subject_header(std::string_view n, const std::vector<std::string>& names) {
    for (const std::string& s : names)
        if (iequals(n, s)) return true;
    return false;
}

// Whether `hay` contains `needle` (ASCII, any case): media types.
static bool icontains(std::string_view hay, std::string_view needle) {
    for (size_t i = 0; i + needle.size() <= hay.size(); ++i)
        if (iequals(hay.substr(i, needle.size()), needle)) return true;
    return false;
}

static bool ip_in(const std::string& ip, const std::vector<config::Cidr>& nets) {
    error_code ec;
    auto a = asio::ip::make_address(ip, ec);
    if (ec) return false;
    if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    for (const config::Cidr& c : nets) {
        unsigned char bytes[16];
        size_t len;
        if (a.is_v4() && !c.v6) {
            auto b = a.to_v4().to_bytes();
            std::copy(b.begin(), b.end(), bytes);
            len = 4;
        } else if (a.is_v6() && c.v6) {
            auto b = a.to_v6().to_bytes();
            std::copy(b.begin(), b.end(), bytes);
            len = 16;
        } else {
            continue;
        }
        int bits = c.prefix_len;
        bool match = true;
        for (size_t i = 0; i < len && bits > 0; ++i, bits -= 8) {
            unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
            if ((bytes[i] & mask) != (c.bytes[i] & mask)) {
                match = false;
                break;
            }
        }
        if (match) return true;
    }
    return false;
}

// The readable-wait (downstream.hpp) may still be pending from an earlier
// exchange or park: then it serves this watch too.
void DownstreamConn::watch_client() {
    watching_ = true;
    wait_readable();
}

void DownstreamConn::on_client_readable(error_code ec) {
    watching_ = false;
    if (ec) return;
    const Stream::Kernel k = stream_.peek_kernel();
    // Over TLS a client that leaves first sends close_notify, inside an
    // encrypted record: let OpenSSL look (request bytes stay buffered).
    bool alert = false;
    if (k == Stream::Kernel::bytes && stream_.is_tls()) {
        Stream::Peek p = stream_.peek();
        if (p == Stream::Peek::partial) {
            watch_client();  // the rest of the record is on its way
            return;
        }
        alert = p == Stream::Peek::gone;
    }
    if (k == Stream::Kernel::eof || k == Stream::Kernel::error || alert) {
        client_gone_ = true;
        error_code ig;
        if (upstream_) upstream_->cancel(ig);
    } else {
        // Bytes: a pipelined request (or, over TLS, any record); it waits
        // its turn in the kernel, and the next park looks again.
        // Empty: a spurious wake; the next park waits again.
        maybe_readable_ = true;
    }
}

// No cancel: the pending wait stays for the park (downstream.hpp).
void DownstreamConn::unwatch_client() { watching_ = false; }

std::string DownstreamConn::upstream_head(RequestCtx& rq, size_t body_size) const {
    const MessageHead& h = *rq.head;
    std::string_view method = llhttp_method_name(static_cast<llhttp_method_t>(h.method));
    const std::string_view connection = h.find("connection").value_or("");
    std::string out;
    out.reserve(256 + h.url().size() + 64 * h.size());
    out.append(method).append(" ").append(h.url()).append(" HTTP/1.1\r\n");
    std::optional<std::string_view> xff;
    for (size_t i = 0; i < h.size(); ++i) {
        std::string_view n = h.name(i);
        if (is_hop_by_hop(n) || listed_in_connection(connection, n) || iequals(n, "content-length") ||
            iequals(n, "expect") || iequals(n, "x-forwarded-proto") || iequals(n, "x-request-id"))
            continue;
        // The mTLS subject headers are infergate's alone: whatever a client
        // sent under such a name, on any listener, is dropped.
        if (is_subject_header(n, rq.runtime->client_subject_headers) ||
            (client_cert_ && iequals(n, client_cert_->header)))
            continue;
        if (iequals(n, "x-forwarded-for")) {
            if (!xff) xff = h.value(i);
            continue;
        }
        out.append(n).append(": ").append(h.value(i)).append("\r\n");
    }
    // X-Forwarded-For: appended to only when the peer is a trusted proxy;
    // otherwise whatever the client claimed is replaced by what we saw.
    if (xff && ip_in(peer_ip_, rq.runtime->config->trusted_proxies))
        out.append("X-Forwarded-For: ").append(*xff).append(", ").append(peer_ip_).append("\r\n");
    else
        out.append("X-Forwarded-For: ").append(peer_ip_).append("\r\n");
    out.append(stream_.is_tls() ? "X-Forwarded-Proto: https\r\n" : "X-Forwarded-Proto: http\r\n");
    if (client_cert_ && !client_cert_->subject.empty())
        out.append(client_cert_->header).append(": ").append(client_cert_->subject).append("\r\n");
    out.append("X-Request-Id: ").append(rq.request_id).append("\r\n");
    if (body_size > 0 || h.method == HTTP_POST || h.method == HTTP_PUT)
        out.append("Content-Length: ").append(std::to_string(body_size)).append("\r\n");
    out.append("\r\n");
    return out;
}

asio::awaitable<std::unique_ptr<UpstreamConn>> DownstreamConn::connect(RequestCtx& rq, error_code& ec,
                                                                       bool& tls_failed) {
    auto uc = std::make_unique<UpstreamConn>(w_.ioc(), w_.upstreams());
    uc->endpoint = rq.endpoint->id();
    uc->tls = rq.pool->tls;
    const config::Address& a = rq.endpoint->config().address;
    // The connect deadline covers the TLS handshake too.
    arm(Phase::upstream_connect, rq.runtime->config->timeouts.upstream_connect);
    upstream_ = &uc->stream.socket();
    tls::SslSessionRef resume = uc->tls ? w_.upstreams().session(uc->endpoint, uc->tls.get()) : nullptr;
    ec = co_await connect_upstream(uc->stream, a.host, a.port, uc->tls.get(), uc.get(), resume.get(), tls_failed);
    upstream_ = nullptr;
    if (timed_out_) {
        ec = asio::error::timed_out;
        timed_out_ = false;
    }
    if (!ec) w_.stats().upstream_connections_opened.fetch_add(1, std::memory_order_relaxed);
    if (!ec && uc->tls) w_.stats().count_upstream_tls(SSL_session_reused(uc->stream.ssl()) == 1);
    co_return uc;
}

namespace {

// Releases the in-flight count and the global upstream slot on every path.
struct InFlight {
    std::atomic<int64_t>* counter = nullptr;
    void take(std::atomic<int64_t>& c) {
        release();
        counter = &c;
        c.fetch_add(1, std::memory_order_relaxed);
    }
    void release() {
        if (counter) counter->fetch_sub(1, std::memory_order_relaxed);
        counter = nullptr;
    }
    ~InFlight() { release(); }
};

enum class Framing { length, chunked, close_delimited, none };

// Appends the buffers that carry `pieces` to the client in `framing`.
void frame(std::vector<asio::const_buffer>& out, std::string& chunk_head,
           const std::vector<std::string_view>& pieces, Framing framing) {
    size_t total = 0;
    for (auto p : pieces) total += p.size();
    if (total == 0) return;
    if (framing == Framing::chunked) {
        chunk_head.clear();  // keeps its capacity across chunks
        fmt::format_to(std::back_inserter(chunk_head), "{:x}\r\n", total);
        out.emplace_back(chunk_head.data(), chunk_head.size());
    }
    for (auto p : pieces) out.emplace_back(p.data(), p.size());
    if (framing == Framing::chunked) out.emplace_back("\r\n", 2);
}

// The picker's view of the client's request headers.
class HeadHeaders final : public picker::RequestHeaders {
public:
    explicit HeadHeaders(const MessageHead& head) : head_(head) {}
    std::string_view get(std::string_view lower_name) const override {
        return head_.find(lower_name).value_or(std::string_view{});
    }

private:
    const MessageHead& head_;
};

}  // namespace

asio::awaitable<bool> DownstreamConn::forward(RequestCtx& rq, std::string& body) {
    const config::Config& cfg = *rq.runtime->config;
    std::atomic<int64_t>& slots = w_.shared().upstream_requests;
    InFlight slot;
    slot.take(slots);
    if (slots.load(std::memory_order_relaxed) > static_cast<int64_t>(cfg.limits.max_upstream_requests)) {
        slot.release();
        w_.stats().count_downstream_error("upstream_limit");
        co_return co_await respond(rq, 503, "too many concurrent upstream requests",
                                   "Retry-After: 1\r\n");
    }
    HeadHeaders headers(*rq.head);
    picker::SchedulingRequest sreq;
    sreq.request_id = rq.request_id;
    sreq.model = rq.target_model;
    sreq.path = rq.path;
    sreq.prompt = rq.prompt;
    sreq.cache_salt = rq.cache_salt;
    sreq.headers = &headers;
    sreq.priority = rq.priority;
    const picker::EndpointState* exclude = nullptr;
    bool connect_failed = false;
    InFlight in_flight;
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto pick_start = Clock::now();
        picker::PickResult pr = rq.pool->picker->pick(sreq, pick_start, exclude, w_.scratch());
        w_.stats().scheduler_e2e.observe(std::chrono::duration<double>(Clock::now() - pick_start).count());
        w_.schedule_index_backlog();  // runs after this request's write is started
        if (pr.status == picker::PickResult::Status::shed) {
            // The reference answers ResourceExhausted, 429
            // (requestcontrol/admission.go; pkg/common/error/error.go); its
            // flow-control path adds x-llm-d-request-dropped-reason:
            // rejected-saturated, which we send too. It sends no
            // Retry-After, which DESIGN.md asks of every 429: one second,
            // about twenty scrapes.
            w_.stats().requests_shed.fetch_add(1, std::memory_order_relaxed);
            rq.picker_reason = pr.reason;
            co_return co_await respond(
                rq, 429,
                fmt::format("pool '{}' is saturated: sheddable request (priority {}) dropped",
                            rq.pool->cfg->name, rq.priority),
                "Retry-After: 1\r\nx-llm-d-request-dropped-reason: rejected-saturated\r\n");
        }
        if (pr.status != picker::PickResult::Status::ok) {
            if (connect_failed) break;
            if (pr.status == picker::PickResult::Status::no_fresh_metrics)
                co_return co_await respond(
                    rq, 503,
                    fmt::format("no endpoint of pool '{}' has fresh metrics (failure_mode: fail_close)",
                                rq.pool->cfg->name));
            co_return co_await respond(
                rq, 503, fmt::format("no healthy endpoint in pool '{}'", rq.pool->cfg->name));
        }
        rq.endpoint = pr.endpoint;
        rq.picker_reason = pr.reason;
        if (rq.inference && !rq.gie) {
            // Counted once dispatched, as the reference counts after scheduling.
            const ModelLabels& labels = rq.runtime->model_labels;
            rq.gie = &w_.stats().gie(labels, rq.runtime->generation, rq.model_label,
                                     labels.index(rq.target_model), rq.priority);
            rq.gie->requests.fetch_add(1, std::memory_order_relaxed);
            rq.gie->running.fetch_add(1, std::memory_order_relaxed);
        }
        in_flight.take(rq.endpoint->in_flight);
        std::string head = upstream_head(rq, body.size());
        std::unique_ptr<UpstreamConn> uc = w_.upstreams().take(rq.endpoint->id(), rq.pool->tls.get(), rq.start);
        for (int fresh = 0; fresh < 2; ++fresh) {
            if (!uc) {
                error_code ec;
                bool tls_failed = false;
                uc = co_await connect(rq, ec, tls_failed);
                if (ec) {
                    if (tls_failed && ec != asio::error::timed_out) {
                        tls::Failure why = classify_tls_failure(ec, false);
                        w_.stats().count_upstream_tls_failure(why);
                        log_warn("TLS to {} failed: {} ({})", rq.endpoint->id(),
                                 tls::kFailureNames[static_cast<size_t>(why)], ec.message());
                    }
                    w_.stats().count_upstream_error(rq.endpoint->id(), ec == asio::error::timed_out ? "connect_timeout"
                                                                       : tls_failed               ? "tls_handshake_failed"
                                                                                                  : "connect_failed");
                    rq.endpoint->down.store(true, std::memory_order_relaxed);
                    exclude = rq.endpoint;
                    connect_failed = true;
                    uc.reset();
                    break;
                }
                rq.endpoint->down.store(false, std::memory_order_relaxed);
            }
            Exchange r = co_await exchange(rq, *uc, head, body);
            if (r == Exchange::retry_fresh && fresh == 0) {
                w_.stats().count_upstream_error(rq.endpoint->id(), "stale_keepalive");
                uc.reset();
                continue;
            }
            if (uc->stream.socket().is_open()) w_.upstreams().give_back(std::move(uc));
            co_return r == Exchange::done_keep;
        }
    }
    co_return co_await respond(rq, 502, "could not connect to an upstream endpoint");
}

// infergate's added latency, the two intervals the benchmark compares
// (README, "Admin endpoints and metrics"). They cost two clock reads per
// request, marked below: the request side reuses arm()'s, and the time to
// first byte reuses read 1 when the head came in the first read (nearly
// always), so a request reads the clock once more than before.
//
// infergate_request_added_latency_seconds: from rq.start (handle(), read
// right after the parser took the request's last byte; infergate collects
// the whole body before it forwards, so the request is never streamed to
// the upstream early and no clamping is needed) to the write of the
// request to the upstream below being started (the clock read of that
// arm(), reused). Included: the OpenAI body parse and model extraction,
// routing, the traffic split, model rewrite, picking (prefix hashing and
// scoring), the upstream head built, taking a pooled keep-alive connection
// or connecting and the upstream TLS handshake, a stale keep-alive retried
// on a fresh connection (the retried attempt's write counts). Excluded:
// reading and HTTP-parsing the request (and decrypting it), and copying
// the request into the socket (or encrypting its first record), whose
// duration depends on the body's size and the upstream's reading pace.
// Not observed for a request answered without a successful upstream write
// (404, 429, 503, connect failures).
//
// infergate_response_added_latency_seconds: from the completion of the
// first read that returned response bytes (decrypted, for TLS upstreams;
// clock read 1) to the completion of the first write of the response to
// the client (its head, with whatever body bytes came with it, handed to
// the kernel, or encrypted and handed to it; clock read 2). Included:
// parsing the response head, building the client's head, and, when the
// upstream sends its head in several pieces, waiting for the rest (a proxy
// cannot forward a head before it has it all). An interim 1xx response
// (not forwarded) counts from its first byte. Not observed when the
// client write fails.
asio::awaitable<DownstreamConn::Exchange> DownstreamConn::exchange(RequestCtx& rq,
                                                                   UpstreamConn& uc,
                                                                   const std::string& head,
                                                                   const std::string& body) {
    const config::Config& cfg = *rq.runtime->config;
    error_code ec;
    const Clock::time_point sending = arm(Phase::upstream_header, cfg.timeouts.upstream_response_header);
    upstream_ = &uc.stream.socket();
    std::array<asio::const_buffer, 2> req{asio::buffer(head), asio::buffer(body)};
    co_await uc.stream.write(req, ec);
    if (!ec) rq.request_added_s = std::chrono::duration<double>(sending - rq.start).count();
    if (ec) {
        upstream_ = nullptr;
        uc.stream.close();
        if (timed_out_) {
            timed_out_ = false;
            w_.stats().count_upstream_error(uc.endpoint, "response_timeout");
            co_await respond(rq, 504, "upstream did not answer in time");
            co_return Exchange::done_close;
        }
        if (uc.reused) co_return Exchange::retry_fresh;
        w_.stats().count_upstream_error(uc.endpoint, "write_failed");
        bool keep = co_await respond(rq, 502, "upstream connection failed");
        co_return keep ? Exchange::done_keep : Exchange::done_close;
    }

    watch_client();
    struct Unwatch {
        DownstreamConn* c;
        ~Unwatch() { c->unwatch_client(); }
    } unwatch{this};
    ParserLimits limits{64 * 1024, 100, 8 * 1024, UINT64_MAX};
    HttpParser rp(HttpParser::Kind::response, HttpParser::BodyMode::pieces, limits);
    rp.expect_no_body(rq.is_head);
    IoBuffer buf;  // pooled, not zeroed (io_buffer.hpp)
    std::vector<asio::const_buffer> out;
    std::string chunk_head, resp_head;
    bool head_sent = false, any_byte = false, keep_client = false;
    Clock::time_point first_byte_at{};  // the first read that returned response bytes
    Framing framing = Framing::none;
    // Reads usage from the body as it passes; strips the usage-only event
    // of a stream when infergate asked for it (usage_scan.hpp).
    ResponseTap tap;
    std::vector<std::string_view> tapped;

    for (;;) {
        size_t n = co_await uc.stream.read_some(asio::buffer(buf.get(), kUpstreamReadChunk), ec);
        if (ec && ec != asio::error::eof) {
            // fallthrough to the failure handling below
        }
        bool eof = ec == asio::error::eof;
        const bool first_read = !ec && !any_byte;
        if (first_read) first_byte_at = Clock::now();  // clock read 1 (above)
        if (!ec) any_byte = true;
        if (ec && !(eof && head_sent)) {
            upstream_ = nullptr;
            uc.stream.close();
            bool was_timeout = timed_out_;
            timed_out_ = false;
            if (client_gone_) {
                // The client hung up while we waited: drop the upstream
                // request (its connection is closed above) and the client's.
                w_.stats().count_downstream_error("client_disconnected");
                rq.status = rq.status ? rq.status : 499;
                finish(rq);
                close();
                co_return Exchange::failed;
            }
            if (!head_sent) {
                if (!any_byte && uc.reused && !was_timeout) co_return Exchange::retry_fresh;
                w_.stats().count_upstream_error(uc.endpoint, was_timeout ? "response_timeout"
                                                                        : "closed_before_response");
                bool keep = co_await respond(rq, was_timeout ? 504 : 502,
                                             was_timeout ? "upstream did not answer in time"
                                                         : "upstream closed the connection before responding");
                co_return keep ? Exchange::done_keep : Exchange::done_close;
            }
            // Mid-body failure: the client must see a broken response, not
            // a clean end, so no terminating chunk and the connection closes.
            rq.truncated = true;
            w_.stats().streams_truncated.fetch_add(1, std::memory_order_relaxed);
            w_.stats().count_upstream_error(uc.endpoint, was_timeout ? "stream_idle_timeout"
                                                                     : "closed_mid_stream");
            finish(rq);
            close();
            co_return Exchange::failed;
        }
        if (eof) {
            rp.finish();  // completes a close-delimited body
            if (!rp.message_complete()) {
                upstream_ = nullptr;
                rq.truncated = true;
                w_.stats().streams_truncated.fetch_add(1, std::memory_order_relaxed);
                w_.stats().count_upstream_error(uc.endpoint, "closed_mid_stream");
                finish(rq);
                close();
                co_return Exchange::failed;
            }
        } else {
            size_t off = 0;
            while (off < n) {
                off += rp.feed({buf.get() + off, n - off});
                const MessageHead& h = rp.head();
                // Interim 1xx responses (other than 101) are not forwarded.
                if (rp.message_complete() && h.status >= 100 && h.status < 200 && h.status != 101) {
                    rp.next_message();
                    rp.expect_no_body(rq.is_head);
                    continue;
                }
                break;
            }
            if (rp.failed()) {
                upstream_ = nullptr;
                uc.stream.close();
                w_.stats().count_upstream_error(uc.endpoint, "bad_response");
                if (!head_sent) {
                    bool keep = co_await respond(rq, 502, "upstream sent an invalid response");
                    co_return keep ? Exchange::done_keep : Exchange::done_close;
                }
                rq.truncated = true;
                w_.stats().streams_truncated.fetch_add(1, std::memory_order_relaxed);
                finish(rq);
                close();
                co_return Exchange::failed;
            }
        }

        out.clear();
        if (!head_sent && rp.head_complete()) {
            const MessageHead& h = rp.head();
            rq.status = h.status;
            // The read that completed the head; when that was the first
            // read (nearly always), its clock reading serves.
            rq.ttfb_s = std::chrono::duration<double>((first_read ? first_byte_at : Clock::now()) -
                                                      rq.start)
                            .count();
            rq.upstream_answered = true;
            bool bodiless = rq.is_head || h.status == 204 || h.status == 304 ||
                            (h.status >= 100 && h.status < 200);
            auto ctype = h.find("content-type");
            tap.start(ctype && icontains(*ctype, "text/event-stream"), rq.usage_injected);
            if (bodiless)
                framing = Framing::none;
            else if (h.chunked)
                framing = rq.head->http_minor >= 1 ? Framing::chunked : Framing::close_delimited;
            else if (h.content_length && !tap.stripping())  // stripping changes the length
                framing = Framing::length;
            else
                framing = rq.head->http_minor >= 1 ? Framing::chunked : Framing::close_delimited;
            keep_client = rq.client_keep_alive && !w_.draining() &&
                          framing != Framing::close_delimited;
            resp_head.clear();
            fmt::format_to(std::back_inserter(resp_head), "HTTP/1.1 {} {}\r\n", h.status, reason_phrase(h.status));
            const std::string_view connection = h.find("connection").value_or("");
            for (size_t i = 0; i < h.size(); ++i) {
                std::string_view nm = h.name(i);
                if (is_hop_by_hop(nm) || listed_in_connection(connection, nm) ||
                    iequals(nm, "x-gateway-destination-endpoint-served"))
                    continue;
                if (framing != Framing::length && iequals(nm, "content-length") && !bodiless) continue;
                resp_head.append(nm).append(": ").append(h.value(i)).append("\r\n");
            }
            if (framing == Framing::chunked) resp_head.append("Transfer-Encoding: chunked\r\n");
            if (!rp.head().find("x-request-id"))
                resp_head.append("x-request-id: ").append(rq.request_id).append("\r\n");
            resp_head.append("x-gateway-destination-endpoint-served: ")
                .append(uc.endpoint)
                .append("\r\n");
            // The session-affinity scorer's token: where this request went,
            // for the client to send back.
            if (const picker::Scheduler* sched = rq.pool->picker->scheduler(); sched && rq.endpoint)
                for (const std::string& name : picker::session_headers(*sched))
                    resp_head.append(name).append(": ").append(rq.endpoint->token()).append("\r\n");
            if (!keep_client) resp_head.append("Connection: close\r\n");
            resp_head.append("\r\n");
            out.emplace_back(resp_head.data(), resp_head.size());
            head_sent = true;
        }
        if (head_sent) {
            tap.new_round();  // the previous round's buffers have been written
            tapped.clear();
            if (!eof) {  // at EOF the parser's pieces are the last read's, already sent
                for (std::string_view p : rp.pieces()) {
                    if (!p.empty() && rq.first_body_s < 0)
                        rq.first_body_s = std::chrono::duration<double>(Clock::now() - rq.start).count();
                    tap.feed(p, tapped);
                }
            }
            if (rp.message_complete()) {
                tap.finish(tapped);
                rq.response_complete = true;
                rq.prompt_tokens = tap.prompt_tokens();
                rq.completion_tokens = tap.completion_tokens();
            }
            frame(out, chunk_head, tapped, framing);
            if (rp.message_complete() && framing == Framing::chunked) out.emplace_back("0\r\n\r\n", 5);
        }
        if (!out.empty()) {
            arm(Phase::stream, cfg.timeouts.stream_idle);
            size_t bytes = co_await stream_.write(out, ec);
            rq.bytes_out += bytes;
            if (ec) {
                // The client went away: drop the upstream request with it.
                upstream_ = nullptr;
                uc.stream.close();
                w_.stats().count_downstream_error(timed_out_ ? "write_timeout" : "client_disconnected");
                rq.client_aborted = true;
                finish(rq);
                close();
                co_return Exchange::failed;
            }
            if (rq.response_added_s < 0)  // the first write: clock read 2 (above)
                rq.response_added_s = std::chrono::duration<double>(Clock::now() - first_byte_at).count();
        }
        if (rp.message_complete()) {
            upstream_ = nullptr;
            if (!rp.head().keep_alive || eof) {
                uc.stream.close();
            }
            finish(rq);
            co_return keep_client ? Exchange::done_keep : Exchange::done_close;
        }
        arm(Phase::stream, cfg.timeouts.stream_idle);
    }
}

}  // namespace infergate::proxy
