#include "proxy/downstream.hpp"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <ctime>
#include <optional>
#include <vector>

#include "proxy/http_codec.hpp"
#include "proxy/io_buffer.hpp"
#include "proxy/openai_body.hpp"
#include "proxy/request_ctx.hpp"
#include "proxy/responses.hpp"

namespace infergate::proxy {

namespace asio = boost::asio;
using boost::system::error_code;

// Bytes read from a client per read call. The parser copies what it keeps
// (head fields, body) so the buffer only ever holds unparsed bytes.
static constexpr size_t kReadChunk = IoBuffer::kSize;

// For the operations an idle connection keeps pending (its readable-wait
// and its timer wait): plain operator new at the operation's own size.
// Asio sends handlers with std::allocator through its per-thread recycling
// cache, which hands any cached block that is large enough (often one of a
// coroutine's ~550-byte write operations) to a ~150-byte wait, and an idle
// connection then holds the large block for as long as it idles.
template <typename T>
struct ExactAllocator {
    using value_type = T;
    ExactAllocator() = default;
    template <typename U>
    ExactAllocator(const ExactAllocator<U>&) noexcept {}
    T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
    void deallocate(T* p, size_t) noexcept { ::operator delete(p); }
    friend bool operator==(ExactAllocator, ExactAllocator) noexcept { return true; }
};

DownstreamConn::DownstreamConn(Worker& w, Socket socket, std::shared_ptr<const tls::ServerTls> tls)
    : w_(w), tls_(std::move(tls)), stream_(std::move(socket)), timer_(w.ioc()) {
    w_.add(this);
    error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ip_ = ep.address().to_string();
    stream_.socket().set_option(asio::ip::tcp::no_delay(true), ec);
}

DownstreamConn::~DownstreamConn() { w_.remove(this); }

void DownstreamConn::start() {
    if (!tls_) {
        park();
        return;
    }
    SSL* ssl = tls_->new_ssl();
    if (!ssl || !stream_.attach(ssl)) {
        close();
        return;
    }
    // Until the handshake is done the connection waits like a parked one,
    // under the handshake deadline rather than the idle one.
    parked_ = true;
    arm(Phase::handshake, tls_->config().handshake_timeout);
    wait_readable();
}

void DownstreamConn::close() {
    if (closed_) return;
    closed_ = true;
    stream_.close();
    timer_.cancel();
}

// Closing a socket whose receive queue still holds data makes the kernel
// send RST instead of FIN, and a client that is still sending (a dribbled
// header, an oversized body) can then get ECONNRESET before it reads our
// 408/413. So, as nginx's lingering_close: stop sending (FIN after the
// answer), read and discard what the client still sends for at most
// kLingerTime and kLingerBytes, then close.
asio::awaitable<void> DownstreamConn::lingering_close() {
    constexpr std::chrono::milliseconds kLingerTime{2000};
    constexpr size_t kLingerBytes = 256 * 1024;
    error_code ec;
    stream_.shutdown_send();
    if (!closed_) {
        timed_out_ = false;
        arm(Phase::write, kLingerTime);
        char sink[4096];
        size_t total = 0;
        while (!timed_out_ && total < kLingerBytes) {
            // Raw bytes: over TLS they are records nobody will decrypt.
            const size_t n = co_await stream_.socket().async_read_some(asio::buffer(sink),
                                                                       asio::redirect_error(asio::use_awaitable, ec));
            if (ec) break;  // EOF: the client closed too; or the deadline cancelled the read
            total += n;
        }
    }
    close();
}

void DownstreamConn::close_if_idle() {
    if (parked_) close();
}

// --- parking ---------------------------------------------------------------

void DownstreamConn::park() {
    if (closed_) return;
    parked_ = true;
    stream_.release_buffers();
    arm(Phase::idle, w_.runtime()->config->timeouts.keepalive_idle);
    bool ready = stream_.has_buffered();  // the next request is already inside OpenSSL
    if (!ready && maybe_readable_ && !wait_pending_) {
        // The wait fired while we served (pipelined bytes, a hang-up, or a
        // TLS record OpenSSL has since read): look before waiting again.
        ready = stream_.peek_kernel() != Stream::Kernel::empty;
    }
    maybe_readable_ = false;
    if (ready) {
        // The socket may never become readable again for these bytes.
        asio::post(w_.ioc(), [self = shared_from_this()] { self->on_readable({}); });
        return;
    }
    wait_readable();
}

void DownstreamConn::wait_readable() {
    if (wait_pending_) return;
    wait_pending_ = true;
    stream_.socket().async_wait(
        asio::ip::tcp::socket::wait_read,
        asio::bind_allocator(ExactAllocator<void>(),
                             [self = shared_from_this()](error_code ec) { self->on_wait(ec); }));
}

void DownstreamConn::on_wait(error_code ec) {
    wait_pending_ = false;
    if (parked_) {
        on_readable(ec);
    } else if (watching_) {
        on_client_readable(ec);
    } else if (!ec) {
        maybe_readable_ = true;
    }
}

void DownstreamConn::on_readable(error_code ec) {
    parked_ = false;
    if (ec || closed_ || timed_out_) {
        // A TLS client that connected and never began its handshake
        // counts as a handshake timeout like one that stalled midway.
        if (tls_ && !handshake_done_ && timed_out_ && !closed_) w_.stats().count_tls_failure(tls::Failure::timeout);
        close();
        return;
    }
    // While draining, bytes that arrive still get their answer (with
    // Connection: close) rather than a reset.
    timed_out_ = false;
    // Before the handshake the handshake deadline stays armed.
    if (!tls_ || handshake_done_) arm(Phase::header, w_.runtime()->config->timeouts.header_read);
    asio::co_spawn(w_.ioc(), serve(), [self = shared_from_this()](std::exception_ptr e) {
        // serve() handles every expected failure itself; an exception here
        // is a bug or an allocation failure and costs only this connection.
        if (e || self->closed_) {
            self->close();
            return;
        }
        self->park();
    });
}

// --- deadlines -------------------------------------------------------------

DownstreamConn::Clock::time_point DownstreamConn::arm(Phase phase, std::chrono::milliseconds d) {
    phase_ = phase;
    const Clock::time_point now = Clock::now();
    deadline_ = now + d;
    // A later deadline than the pending expiry needs no timer operation:
    // the handler re-waits when it fires early. Only an earlier one re-arms.
    if (timer_pending_ && timer_expiry_ <= deadline_) return now;
    wait_timer();
    return now;
}

void DownstreamConn::wait_timer() {
    timer_expiry_ = deadline_;
    timer_.expires_at(deadline_);
    timer_pending_ = true;
    uint64_t gen = ++timer_gen_;
    timer_.async_wait(asio::bind_allocator(
        ExactAllocator<void>(), [self = shared_from_this(), gen](error_code ec) { self->on_timer(ec, gen); }));
}

void DownstreamConn::on_timer(error_code ec, uint64_t gen) {
    if (gen != timer_gen_) return;  // superseded by a re-arm
    timer_pending_ = false;
    if (ec || closed_) return;
    if (Clock::now() < deadline_) {
        wait_timer();
        return;
    }
    timed_out_ = true;
    stream_.cancel();
    error_code ig;
    if (upstream_) upstream_->cancel(ig);
}

// --- writing ---------------------------------------------------------------

asio::awaitable<error_code> DownstreamConn::write(std::string_view data) {
    error_code ec;
    co_await stream_.write(data, ec);
    co_return ec;
}

asio::awaitable<bool> DownstreamConn::respond(RequestCtx& rq, int status, std::string_view message,
                                              std::string_view extra_headers) {
    rq.status = status;
    // Errors that may leave unread request bytes behind (a timeout, a body
    // or head over its limit) close the connection; the others, including
    // the proxy's own 5xx, keep it: nothing is wrong with the client.
    bool poisoned = status == 408 || status == 413 || status == 414 || status == 431;
    bool keep = rq.client_keep_alive && !w_.draining() && !poisoned;
    std::string extra = rq.request_id.empty()
                            ? std::string(extra_headers)
                            : fmt::format("x-request-id: {}\r\n{}", rq.request_id, extra_headers);
    std::string resp = error_response(status, message, keep, extra);
    rq.bytes_out += resp.size();
    arm(Phase::write, w_.runtime()->config->timeouts.header_read);
    error_code ec = co_await write(resp);
    finish(rq);
    co_return keep && !ec;
}

// --- reading requests -------------------------------------------------------

asio::awaitable<bool> DownstreamConn::tls_handshake() {
    error_code ec = co_await stream_.handshake();
    if (timed_out_) ec = asio::error::timed_out;
    if (ec) {
        tls::Failure why = classify_tls_failure(ec, true);
        w_.stats().count_tls_failure(why);
        if (why == tls::Failure::http_on_tls_port) {
            // As nginx does: the client speaks plain HTTP, so say so in
            // plain HTTP, then close.
            timed_out_ = false;
            arm(Phase::write, w_.runtime()->config->timeouts.header_read);
            std::string resp = error_response(400, "plain HTTP request sent to an HTTPS port", false);
            error_code wec;
            co_await asio::async_write(stream_.socket(), asio::buffer(resp),
                                       asio::redirect_error(asio::use_awaitable, wec));
            if (!wec) co_await lingering_close();
        }
        close();
        co_return false;
    }
    handshake_done_ = true;
    SSL* ssl = stream_.ssl();
    w_.stats().count_tls_handshake(SSL_version(ssl) == TLS1_3_VERSION, SSL_session_reused(ssl) == 1);
    const config::ListenerTls& c = tls_->config();
    if (!c.client_ca_file.empty()) {
        client_cert_ = std::make_unique<ClientCert>();
        client_cert_->header = c.client_subject_header;
        X509* peer = SSL_get0_peer_certificate(ssl);
        if (peer && SSL_get_verify_result(ssl) == X509_V_OK) client_cert_->subject = tls::subject_text(peer);
    }
    co_return true;
}

asio::awaitable<void> DownstreamConn::serve() {
    if (tls_ && !handshake_done_) {
        if (!co_await tls_handshake()) co_return;
        timed_out_ = false;
        arm(Phase::header, w_.runtime()->config->timeouts.header_read);
    }
    std::shared_ptr<const Runtime> rt = w_.runtime();
    const config::Config& cfg = *rt->config;
    ParserLimits limits{cfg.limits.max_header_bytes, cfg.limits.max_headers,
                        cfg.limits.max_uri_bytes, cfg.limits.max_body_bytes};
    HttpParser parser(HttpParser::Kind::request, HttpParser::BodyMode::collect, limits);
    // Not a vector: zeroing 16 KiB for every wake-up of a keep-alive
    // connection showed in profiles (2% of a worker). Pooled (io_buffer.hpp).
    IoBuffer buf;
    size_t begin = 0, end = 0;
    bool continue_sent = false;

    for (;;) {
        while (!parser.message_complete() && !parser.failed()) {
            if (begin == end) {
                error_code ec;
                size_t n = co_await stream_.read_some(asio::buffer(buf.get(), kReadChunk), ec);
                if (first_read_ && !ec && n > 0) {
                    first_read_ = false;
                    // A TLS ClientHello (a handshake record, 0x16) on a plain
                    // listener: no HTTP answer could reach a TLS client.
                    if (!tls_ && buf[0] == 0x16) {
                        w_.stats().count_downstream_error("tls_on_plain_port");
                        close();
                        co_return;
                    }
                }
                if (ec || timed_out_) {
                    if (timed_out_ && (phase_ == Phase::header || phase_ == Phase::body) &&
                        parser.started()) {
                        RequestCtx rq;
                        rq.start = Clock::now();
                        rq.runtime = rt;
                        rq.client_keep_alive = false;
                        w_.stats().count_downstream_error(phase_ == Phase::header ? "header_timeout"
                                                                                 : "body_timeout");
                        timed_out_ = false;
                        co_await respond(rq, 408, phase_ == Phase::header
                                                      ? "request header not received in time"
                                                      : "request body not received in time");
                        co_await lingering_close();
                        co_return;
                    }
                    close();
                    co_return;
                }
                begin = 0;
                end = n;
            }
            size_t used = parser.feed({buf.get() + begin, end - begin});
            begin += used;
            if (parser.head_complete() && phase_ == Phase::header) {
                arm(Phase::body, cfg.timeouts.body_read);
                auto expect = parser.head().find("expect");
                if (expect && !parser.message_complete() && !continue_sent &&
                    iequals(*expect, "100-continue")) {
                    continue_sent = true;
                    co_await write("HTTP/1.1 100 Continue\r\n\r\n");
                }
            }
        }
        if (parser.failed()) {
            RequestCtx rq;
            rq.start = Clock::now();
            rq.runtime = rt;
            rq.client_keep_alive = false;  // unread bytes may follow: close
            w_.stats().count_downstream_error("bad_request");
            co_await respond(rq, parser.error_status(), parser.error_reason());
            co_await lingering_close();
            co_return;
        }
        bool keep = co_await handle(parser);
        if (!keep || closed_) {
            if (!closed_) co_await lingering_close();
            co_return;
        }
        parser.next_message();
        continue_sent = false;
        if (begin == end && !stream_.has_buffered()) co_return;  // nothing pipelined: park
        arm(Phase::header, cfg.timeouts.header_read);
    }
}

// --- routing ----------------------------------------------------------------

// The OpenAI APIs that take stream_options: /v1/completions and
// /v1/chat/completions.
static bool wants_usage(std::string_view path) { return path.ends_with("/completions"); }

static std::string make_request_id(std::minstd_rand& rng) {
    // 128 random bits as a UUIDv4-shaped string.
    uint32_t a = static_cast<uint32_t>(rng()), b = static_cast<uint32_t>(rng());
    uint32_t c = static_cast<uint32_t>(rng()), d = static_cast<uint32_t>(rng());
    return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:04x}{:08x}", a, b >> 16, b & 0xfff,
                       (c >> 16 & 0x3fff) | 0x8000, c & 0xffff, d);
}

asio::awaitable<bool> DownstreamConn::handle(HttpParser& parser) {
    RequestCtx rq;
    // Read right after the parser took the request's last byte: the start
    // of infergate_request_added_latency_seconds too (forward.cpp).
    rq.start = Clock::now();
    rq.runtime = w_.runtime();
    MessageHead& head = parser.head();
    std::string& body = parser.body();
    rq.head = &head;
    rq.client_keep_alive = head.keep_alive;
    rq.is_head = head.method == HTTP_HEAD;
    rq.bytes_in = body.size();
    auto rid = head.find("x-request-id");
    rq.request_id = rid && !rid->empty() && rid->size() <= 200 ? std::string(*rid)
                                                               : make_request_id(w_.rng());
    std::string_view url = head.url();
    rq.path = url.substr(0, url.find('?'));

    if (head.method == HTTP_GET && rq.path == "/v1/models") {
        rq.status = 200;
        std::string resp = json_response(200, rq.runtime->models_json, rq.client_keep_alive,
                                         "x-request-id: " + rq.request_id + "\r\n");
        rq.bytes_out = resp.size();
        arm(Phase::write, rq.runtime->config->timeouts.header_read);
        error_code ec = co_await write(resp);
        finish(rq);
        co_return !ec && rq.client_keep_alive && !w_.draining();
    }

    // Every POST is an OpenAI-style request: its body must name a model.
    OpenAiFields fields;
    bool has_model = false;
    if (head.method == HTTP_POST || !body.empty()) {
        rq.inference = true;  // counted under model_name "" until it names one
        fields = parse_openai_body(body);
        if (fields.error != OpenAiFields::Error::none)
            co_return co_await respond(rq, 400, describe(fields.error));
        rq.model = fields.model;
        rq.prompt = std::move(fields.prompt);
        rq.cache_salt = std::move(fields.cache_salt);
        has_model = true;
        rq.model_label = rq.runtime->model_labels.index(rq.model);
    }

    rq.route = rq.runtime->match(rq.path, head, has_model ? &rq.model : nullptr);
    if (!rq.route) co_return co_await respond(rq, 404, "no route matches this request");
    const RuntimeBackend& be = choose_backend(*rq.route, static_cast<uint32_t>(w_.rng()()));
    rq.pool = &rq.runtime->pools[be.pool];
    rq.priority = rq.runtime->priority(*rq.route, be.pool, head);
    if (has_model) {
        // The backend's fixed rewrite first; the pool's rules then match the
        // name the pool would receive (config/REFERENCE.md, model_rewrites).
        std::string_view target = *be.model_rewrite ? std::string_view(**be.model_rewrite) : rq.model;
        if (const RewriteTargets* rule = rq.pool->rewrites.find(target)) {
            target = rule->choose(static_cast<uint32_t>(w_.rng()()));
            rq.model_rewrite = rule->source->name;
        }
        if (target != rq.model) rewrite_model(body, fields, target);
        rq.target_model = target;
    }
    // Token metrics need the stream's usage chunk: ask for it when the
    // client did not (it is stripped from the response again).
    if (has_model && fields.stream && !fields.include_usage && wants_usage(rq.path))
        rq.usage_injected = add_include_usage(body);
    co_return co_await forward(rq, body);
}

// --- access log and statistics ----------------------------------------------

// The reference's error_code for a request that failed (llm-d-router
// pkg/epp/handlers/server.go: a model-server status other than 200 is
// ModelServerError; its own refusals carry their code); none if it did not.
static std::optional<GieError> gie_error(const RequestCtx& rq) {
    if (rq.client_aborted || rq.status == 499) return GieError::Unknown;
    if (rq.upstream_answered)
        return rq.truncated || rq.status != 200 ? std::optional(GieError::ModelServerError) : std::nullopt;
    if (rq.status < 400) return std::nullopt;
    switch (rq.status) {
        case 404: return GieError::NotFound;
        case 429: return GieError::ResourceExhausted;
        case 502: case 504: return GieError::ModelServerError;  // the model server failed
        case 503: return GieError::ServiceUnavailable;
        default: return rq.status < 500 ? GieError::BadRequest : GieError::Internal;
    }
}

// inference_objective_* (metrics_gie.cpp): what the reference records at a
// response's end (pkg/epp/handlers/response.go, HandleResponseBody).
static void record_gie(WorkerStats& st, RequestCtx& rq, double dur) {
    if (!rq.inference) return;
    const ModelLabels& labels = rq.runtime->model_labels;
    GieSeries& s = rq.gie ? *rq.gie
                          : st.gie(labels, rq.runtime->generation, rq.model_label,
                                   labels.index(rq.target_model), rq.priority);
    if (rq.gie) s.running.fetch_sub(1, std::memory_order_relaxed);
    if (auto e = gie_error(rq)) s.errors[static_cast<size_t>(*e)].fetch_add(1, std::memory_order_relaxed);
    if (!rq.response_complete) return;
    s.duration.observe(dur);
    if (rq.first_body_s > 0) s.ttft.observe(rq.first_body_s);
    if (rq.prompt_tokens > 0) s.input_tokens.observe(static_cast<double>(rq.prompt_tokens));
    if (rq.completion_tokens > 0) {
        s.output_tokens.observe(static_cast<double>(rq.completion_tokens));
        s.ntpot.observe(dur / static_cast<double>(rq.completion_tokens));
    }
}

void DownstreamConn::finish(RequestCtx& rq) {
    double dur = std::chrono::duration<double>(Clock::now() - rq.start).count();
    WorkerStats& st = w_.stats();
    record_gie(st, rq, dur);
    st.request_duration.observe(dur);
    if (rq.ttfb_s >= 0) st.time_to_first_byte.observe(rq.ttfb_s);
    if (rq.request_added_s >= 0) st.request_added_latency.observe(rq.request_added_s);
    if (rq.response_added_s >= 0) st.response_added_latency.observe(rq.response_added_s);
    const std::string none;
    st.count_request({rq.route ? rq.route->cfg->name : none, rq.pool ? rq.pool->cfg->name : none,
                      rq.endpoint ? rq.endpoint->id() : none, rq.status});
    if (!w_.shared().access_log.enabled()) return;
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::string line = fmt::format(
        R"({{"time":"{}","request_id":{},"route":{},"pool":{},"endpoint":{},"model":{},"target_model":{},"model_rewrite":{},"status":{},"bytes_in":{},"bytes_out":{},"duration_ms":{:.3f},"ttfb_ms":{},"picker_reason":{}}})"
        "\n",
        ts, json_quote(rq.request_id), json_quote(rq.route ? rq.route->cfg->name : none),
        json_quote(rq.pool ? rq.pool->cfg->name : none),
        json_quote(rq.endpoint ? rq.endpoint->id() : none), json_quote(rq.model),
        json_quote(rq.target_model), json_quote(rq.model_rewrite), rq.status,
        rq.bytes_in, rq.bytes_out, dur * 1e3,
        rq.ttfb_s >= 0 ? fmt::format("{:.3f}", rq.ttfb_s * 1e3) : std::string("null"),
        json_quote(rq.picker_reason));
    w_.shared().access_log.write(line);
}

}  // namespace infergate::proxy
