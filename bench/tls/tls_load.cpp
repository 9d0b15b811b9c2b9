// tls_load: a TLS load generator for bench/scripts/tls_bench.sh (issue 7,
// speed). It measures one server's full handshakes, resumed handshakes or
// keep-alive HTTPS requests per second and prints one JSON line:
//
//   {"mode":..., "handshakes":N, "resumed":N, "requests":N, "errors":N,
//    "seconds":S, "rate":R, "client_cpu_s":C, "server_cpu_s":C|null,
//    "error_classes":{...}, "negotiated":{...}}
//
// Modes (one connection "slot" per --concurrency, each a coroutine):
//   full       new TCP connection, full handshake (optionally one request
//              with --request), close_notify, close; rate = handshakes/s
//   resume     one priming full handshake captures a session (for TLS 1.3
//              the NewSessionTicket is read first); every connection then
//              offers it; rate = resumed handshakes/s, and a handshake the
//              server did not resume (SSL_session_reused == 0) counts as
//              the error class "not_resumed"
//   keepalive  persistent connections, each sending GET --path back to
//              back (no pipelining) and reading whole responses
//              (Content-Length framed); rate = requests/s
//
// Measurement: after --warmup seconds (connections ramped, resume primed)
// the counters, CLOCK_MONOTONIC, this process's rusage and, with
// --server-pid, utime+stime of each given process (/proc/PID/stat) are
// snapshotted, and again after --duration seconds; only events completed
// inside that interval are counted. Then the loader stops without draining:
// connections still in flight are abandoned. A watchdog ends the run at
// warmup + duration + 15 s whatever happens, so every loop is bounded by
// time; per-message loops are also bounded by size (16 KiB response head).
//
// Why raw OpenSSL over a non-blocking socket rather than asio::ssl::stream:
// the loader shares one core with nothing but must out-run the server in
// resume and keep-alive modes, where client and server do similar work;
// driving SSL_* directly and waiting for readiness with async_wait avoids
// asio::ssl's extra buffer layer. One thread, one io_context.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

enum class Mode { full, resume, keepalive };

struct Options {
    Mode mode = Mode::full;
    std::string mode_name = "full";
    std::string host = "127.0.0.1";
    unsigned port = 0;
    std::string sni;          // empty: no SNI; verification then checks the IP
    std::string cafile;       // verify the server against it
    bool insecure = false;    // no verification
    int tls_max = TLS1_3_VERSION;
    std::string path = "/v1/models";
    bool request = false;     // full/resume: one request per connection
    unsigned concurrency = 64;
    double duration = 5.0;
    double warmup = 1.0;
    std::vector<int> server_pids;
};

constexpr const char* kUsage = R"(usage: tls_load --port P [options]
  --mode full|resume|keepalive   (default full)
  --host ADDR                    IPv4/IPv6 literal (default 127.0.0.1)
  --port P                       server port (required)
  --sni NAME                     send SNI NAME and verify the certificate for it
  --cafile FILE                  verify the server certificate against FILE
  --insecure                     do not verify (one of --cafile/--insecure is required)
  --tls-max 1.2|1.3              highest version offered (default 1.3; lowest is 1.2)
  --path PATH                    request target (default /v1/models)
  --request                      full/resume: send one GET PATH per connection
  --concurrency N                connections in flight (default 64)
  --duration S                   measured seconds (default 5, at most 3600)
  --warmup S                     unmeasured seconds first (default 1)
  --server-pid PID               also report utime+stime of PID over the
                                 measured interval (repeatable: summed)
)";

bool parse_double(std::string_view s, double& out, double lo, double hi) {
    char* end = nullptr;
    std::string tmp(s);
    double v = std::strtod(tmp.c_str(), &end);
    if (end == tmp.c_str() || *end != '\0' || !(v >= lo && v <= hi)) return false;
    out = v;
    return true;
}

template <class T>
bool parse_uint(std::string_view s, T& out, T lo, T hi) {
    T v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || v < lo || v > hi) return false;
    out = v;
    return true;
}

// Returns an error message, or "" when `o` is complete.
std::string parse_args(int argc, char** argv, Options& o) {
    bool have_port = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&](std::string_view& v) {
            if (i + 1 >= argc) return false;
            v = argv[++i];
            return true;
        };
        std::string_view v;
        if (a == "--insecure") {
            o.insecure = true;
        } else if (a == "--request") {
            o.request = true;
        } else if (a == "--help" || a == "-h") {
            return "help";
        } else if (!value(v)) {
            return fmt::format("unknown option or missing value: {}", a);
        } else if (a == "--mode") {
            if (v == "full") o.mode = Mode::full;
            else if (v == "resume") o.mode = Mode::resume;
            else if (v == "keepalive") o.mode = Mode::keepalive;
            else return fmt::format("--mode: full, resume or keepalive, not {}", v);
            o.mode_name = v;
        } else if (a == "--host") {
            o.host = v;
        } else if (a == "--port") {
            if (!parse_uint<unsigned>(v, o.port, 1, 65535)) return "--port: 1-65535";
            have_port = true;
        } else if (a == "--sni") {
            o.sni = v;
        } else if (a == "--cafile") {
            o.cafile = v;
        } else if (a == "--tls-max") {
            if (v == "1.2") o.tls_max = TLS1_2_VERSION;
            else if (v == "1.3") o.tls_max = TLS1_3_VERSION;
            else return "--tls-max: 1.2 or 1.3";
        } else if (a == "--path") {
            if (v.empty() || v[0] != '/' || v.find_first_of(" \r\n") != std::string_view::npos)
                return "--path: an origin-form target starting with /";
            o.path = v;
        } else if (a == "--concurrency") {
            if (!parse_uint<unsigned>(v, o.concurrency, 1, 100000)) return "--concurrency: 1-100000";
        } else if (a == "--duration") {
            if (!parse_double(v, o.duration, 0.01, 3600)) return "--duration: 0.01-3600 seconds";
        } else if (a == "--warmup") {
            if (!parse_double(v, o.warmup, 0, 600)) return "--warmup: 0-600 seconds";
        } else if (a == "--server-pid") {
            int pid = 0;
            if (!parse_uint<int>(v, pid, 1, 1 << 30)) return "--server-pid: a process id";
            o.server_pids.push_back(pid);
        } else {
            return fmt::format("unknown option: {}", a);
        }
    }
    if (!have_port) return "--port is required";
    if (o.insecure == !o.cafile.empty()) return "exactly one of --cafile FILE and --insecure";
    return "";
}

// utime+stime of `pid` in seconds (all its threads, live and exited), from
// fields 14 and 15 of /proc/PID/stat; nullopt when unreadable.
std::optional<double> process_cpu_s(int pid) {
    std::ifstream in(fmt::format("/proc/{}/stat", pid));
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    // comm (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    size_t p = line.rfind(')');
    if (p == std::string::npos) return std::nullopt;
    std::string_view rest = std::string_view(line).substr(p + 1);
    unsigned long long ticks[2] = {0, 0};
    int field = 2;
    size_t i = 0;
    while (field < 15 && i < rest.size()) {
        while (i < rest.size() && rest[i] == ' ') ++i;
        size_t j = rest.find(' ', i);
        if (j == std::string_view::npos) j = rest.size();
        ++field;
        if (field == 14 || field == 15)
            std::from_chars(rest.data() + i, rest.data() + j, ticks[field - 14]);
        i = j;
    }
    if (field < 15) return std::nullopt;
    return double(ticks[0] + ticks[1]) / double(::sysconf(_SC_CLK_TCK));
}

double self_cpu_s() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto s = [](const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
}

// Failure classes; "errors" in the output is their sum.
// "prime": resume mode's priming handshake gave no resumable session (the
// run then reports nothing else and exits 1).
enum Err { e_connect, e_handshake, e_not_resumed, e_io, e_http, e_prime, e_count };
constexpr const char* kErrNames[e_count] = {"connect", "handshake", "not_resumed", "io", "http", "prime"};

struct Counters {
    uint64_t handshakes = 0, resumed = 0, requests = 0;
    uint64_t errors[e_count] = {};
};

// One connection: the socket owns the fd, the SSL reads it through a
// BIO_NOCLOSE socket BIO, so the SSL is freed first.
struct Conn {
    explicit Conn(asio::io_context& ioc) : sock(ioc) {}
    ~Conn() {
        if (ssl) SSL_free(ssl);
    }
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;
    tcp::socket sock;
    SSL* ssl = nullptr;
};

class Load {
public:
    Load(asio::io_context& ioc, Options opt) : ioc_(ioc), opt_(std::move(opt)) {}
    ~Load() {
        if (session_) SSL_SESSION_free(session_);
        if (ctx_) SSL_CTX_free(ctx_);
    }

    // Builds the SSL_CTX; returns an error message or "".
    std::string init();

    // The whole run; prints the JSON line. Returns the process exit code.
    asio::awaitable<void> run();

    int exit_code() const { return exit_code_; }

private:
    asio::awaitable<void> slot();
    asio::awaitable<bool> connect(Conn& c, bool offer_session);
    asio::awaitable<bool> drive(Conn& c, int (*op)(SSL*, void*, int), void* buf, int len, int& out);
    asio::awaitable<bool> exchange(Conn& c);
    asio::awaitable<std::string> prime();
    void note_negotiated(SSL* ssl);
    void count(uint64_t& n) {
        if (measuring_) ++n;
    }
    void fail(Err e) {
        if (measuring_) ++c_.errors[e];
    }
    static int new_session_cb(SSL* ssl, SSL_SESSION* sess);
    void print(double seconds, double client_cpu, std::optional<double> server_cpu);

    asio::io_context& ioc_;
    Options opt_;
    tcp::endpoint ep_;
    SSL_CTX* ctx_ = nullptr;
    SSL_SESSION* session_ = nullptr;  // resume: the primed session every connection offers
    std::string request_;
    Counters c_;
    bool measuring_ = false;
    bool stopping_ = false;
    std::string negotiated_;  // JSON object: the first handshake's parameters
    int exit_code_ = 0;
};

int Load::new_session_cb(SSL* ssl, SSL_SESSION* sess) {
    auto* self = static_cast<Load*>(SSL_get_app_data(ssl));
    if (self->session_ || !SSL_SESSION_is_resumable(sess)) return 0;
    self->session_ = sess;  // returning 1 keeps the reference
    return 1;
}

std::string Load::init() {
    error_code ec;
    auto addr = asio::ip::make_address(opt_.host, ec);
    if (ec) return fmt::format("--host: not an IP address: {}", opt_.host);
    ep_ = tcp::endpoint(addr, static_cast<unsigned short>(opt_.port));
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) return "SSL_CTX_new failed";
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx_, opt_.tls_max);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx_, alpn, sizeof alpn - 1);
    if (!opt_.cafile.empty()) {
        if (SSL_CTX_load_verify_locations(ctx_, opt_.cafile.c_str(), nullptr) != 1)
            return fmt::format("cannot load --cafile {}", opt_.cafile);
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    } else {
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    }
    if (opt_.mode == Mode::resume) {
        // The callback needs client caching on; nothing is stored internally.
        SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx_, &Load::new_session_cb);
    } else {
        SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
    }
    const std::string& host = opt_.sni.empty() ? opt_.host : opt_.sni;
    request_ = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tls_load\r\nAccept: */*\r\n\r\n",
                           opt_.path, host);
    return "";
}

// Runs one SSL_* operation until it completes, waiting for readiness as
// OpenSSL asks. `op` returns > 0 on success (SSL_read/SSL_write/handshake
// shapes via a small adapter); false on error, EOF or stop.
asio::awaitable<bool> Load::drive(Conn& c, int (*op)(SSL*, void*, int), void* buf, int len, int& out) {
    for (;;) {
        if (stopping_) co_return false;
        ERR_clear_error();
        int r = op(c.ssl, buf, len);
        if (r > 0) {
            out = r;
            co_return true;
        }
        int e = SSL_get_error(c.ssl, r);
        tcp::socket::wait_type w;
        if (e == SSL_ERROR_WANT_READ) w = tcp::socket::wait_read;
        else if (e == SSL_ERROR_WANT_WRITE) w = tcp::socket::wait_write;
        else co_return false;
        auto [ec] = co_await c.sock.async_wait(w, kAwait);
        if (ec) co_return false;
    }
}

int op_handshake(SSL* s, void*, int) { return SSL_do_handshake(s); }
int op_read(SSL* s, void* b, int n) { return SSL_read(s, b, n); }
int op_write(SSL* s, void* b, int n) { return SSL_write(s, b, n); }

// TCP connect and handshake; counts the outcome.
asio::awaitable<bool> Load::connect(Conn& c, bool offer_session) {
    auto [ec] = co_await c.sock.async_connect(ep_, kAwait);
    if (ec) {
        fail(e_connect);
        co_return false;
    }
    c.sock.set_option(tcp::no_delay(true), ec);
    c.sock.native_non_blocking(true, ec);
    c.ssl = SSL_new(ctx_);
    if (!c.ssl || SSL_set_fd(c.ssl, c.sock.native_handle()) != 1) {
        fail(e_handshake);
        co_return false;
    }
    SSL_set_app_data(c.ssl, this);
    if (!opt_.sni.empty()) {
        SSL_set_tlsext_host_name(c.ssl, opt_.sni.c_str());
        if (!opt_.cafile.empty()) SSL_set1_host(c.ssl, opt_.sni.c_str());
    } else if (!opt_.cafile.empty()) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c.ssl), opt_.host.c_str());
    }
    if (offer_session) {
        // OpenSSL's client marks a TLS 1.3 session not resumable once a
        // handshake has used it (tickets are meant for one use, RFC 8446
        // appendix C.4), so each connection offers a copy of the primed
        // one; the server (stateless tickets) accepts a ticket again.
        // TLS 1.2 sessions are offered as they are.
        if (SSL_SESSION_get_protocol_version(session_) == TLS1_3_VERSION) {
            SSL_SESSION* copy = SSL_SESSION_dup(session_);
            if (!copy || SSL_set_session(c.ssl, copy) != 1) {
                if (copy) SSL_SESSION_free(copy);
                fail(e_handshake);
                co_return false;
            }
            SSL_SESSION_free(copy);  // the SSL holds its own reference
        } else {
            SSL_set_session(c.ssl, session_);
        }
    }
    SSL_set_connect_state(c.ssl);
    int n = 0;
    if (!co_await drive(c, op_handshake, nullptr, 0, n)) {
        fail(e_handshake);
        co_return false;
    }
    if (negotiated_.empty()) note_negotiated(c.ssl);
    count(c_.handshakes);
    if (offer_session) {
        if (SSL_session_reused(c.ssl)) count(c_.resumed);
        else fail(e_not_resumed);
    }
    co_return true;
}

void Load::note_negotiated(SSL* ssl) {
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    int group = SSL_get_negotiated_group(ssl);
    const char* gname = group ? OBJ_nid2sn(group & ~TLSEXT_nid_unknown) : nullptr;
    negotiated_ = fmt::format(R"({{"protocol":"{}","cipher":"{}","group":"{}","alpn":"{}"}})",
                              SSL_get_version(ssl), SSL_get_cipher_name(ssl), gname ? gname : "",
                              std::string_view(reinterpret_cast<const char*>(alpn), alpn_len));
}

// ASCII case-insensitive equality (header names and tokens).
bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if (x != y && (x | 0x20) != (y | 0x20)) return false;
        if (x != y && !((x | 0x20) >= 'a' && (x | 0x20) <= 'z')) return false;
    }
    return true;
}

// Sends one request and reads its whole response (Content-Length framed);
// counts it. False when the connection cannot carry another request.
asio::awaitable<bool> Load::exchange(Conn& c) {
    int n = 0;
    if (!co_await drive(c, op_write, request_.data(), int(request_.size()), n)) {
        fail(e_io);
        co_return false;
    }
    std::array<char, 16384> buf;
    size_t have = 0;
    size_t head_end = std::string_view::npos;
    while (head_end == std::string_view::npos) {
        if (have == buf.size()) {  // bound: a head over 16 KiB is not ours
            fail(e_http);
            co_return false;
        }
        if (!co_await drive(c, op_read, buf.data() + have, int(buf.size() - have), n)) {
            fail(e_io);
            co_return false;
        }
        have += size_t(n);
        head_end = std::string_view(buf.data(), have).find("\r\n\r\n");
    }
    std::string_view head(buf.data(), head_end);
    // Status 200 and a Content-Length; header names compared case-insensitively.
    bool ok = head.size() > 12 && head.substr(0, 9) == "HTTP/1.1 " && head.substr(9, 3) == "200";
    std::optional<uint64_t> length;
    bool close = false;
    for (size_t p = head.find("\r\n"); ok && p != std::string_view::npos;) {
        size_t q = head.find("\r\n", p + 2);
        std::string_view line = head.substr(p + 2, q == std::string_view::npos ? q : q - p - 2);
        p = q;
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view name = line.substr(0, colon);
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (iequals(name, "content-length")) {
            uint64_t v = 0;
            auto [e, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (ec == std::errc{}) length = v;
        } else if (iequals(name, "connection") && iequals(value, "close")) {
            close = true;
        }
    }
    if (!ok || !length) {
        fail(e_http);
        co_return false;
    }
    uint64_t body = have - head_end - 4;
    while (body < *length) {
        if (!co_await drive(c, op_read, buf.data(), int(std::min<uint64_t>(buf.size(), *length - body)), n)) {
            fail(e_io);
            co_return false;
        }
        body += uint64_t(n);
    }
    if (body != *length) {  // bytes past the response: nothing was pipelined
        fail(e_http);
        co_return false;
    }
    count(c_.requests);
    co_return !close;
}

// Resume mode: one full handshake whose session every later connection
// offers. TLS 1.3 sends tickets after the handshake, so read (no request
// sent) until the new-session callback has fired. Returns "" or why not.
asio::awaitable<std::string> Load::prime() {
    Conn c(ioc_);
    auto [ec] = co_await c.sock.async_connect(ep_, kAwait);
    if (ec) co_return "connect: " + ec.message();
    c.sock.native_non_blocking(true, ec);
    c.ssl = SSL_new(ctx_);
    SSL_set_fd(c.ssl, c.sock.native_handle());
    SSL_set_app_data(c.ssl, this);
    if (!opt_.sni.empty()) {
        SSL_set_tlsext_host_name(c.ssl, opt_.sni.c_str());
        if (!opt_.cafile.empty()) SSL_set1_host(c.ssl, opt_.sni.c_str());
    } else if (!opt_.cafile.empty()) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c.ssl), opt_.host.c_str());
    }
    SSL_set_connect_state(c.ssl);
    int n = 0;
    if (!co_await drive(c, op_handshake, nullptr, 0, n))
        co_return fmt::format("handshake failed (verify: {})", X509_verify_cert_error_string(SSL_get_verify_result(c.ssl)));
    std::string why = "no ticket";
    char b[256];
    for (int i = 0; i < 64 && !session_; ++i) {  // bounded: tickets come in the first records
        ERR_clear_error();
        int r = SSL_read(c.ssl, b, sizeof b);
        if (r > 0) continue;
        int e = SSL_get_error(c.ssl, r);
        if (e != SSL_ERROR_WANT_READ) {
            why = fmt::format("no ticket before SSL_read failed (SSL error {}, errno {}, {})", e, errno,
                              ERR_reason_error_string(ERR_peek_error()) ? ERR_reason_error_string(ERR_peek_error()) : "-");
            break;
        }
        if (session_) break;
        auto [wec] = co_await c.sock.async_wait(tcp::socket::wait_read, kAwait);
        if (wec || stopping_) break;
    }
    SSL_shutdown(c.ssl);
    co_return session_ ? "" : fmt::format("{} {}", SSL_get_version(c.ssl), why);
}

// One connection slot, until the run stops.
asio::awaitable<void> Load::slot() {
    while (!stopping_) {
        Conn c(ioc_);
        if (!co_await connect(c, opt_.mode == Mode::resume)) continue;
        if (opt_.mode == Mode::keepalive) {
            while (!stopping_ && co_await exchange(c)) {
            }
        } else if (opt_.request) {
            co_await exchange(c);
        }
        if (stopping_) break;
        SSL_shutdown(c.ssl);  // close_notify, not waiting for the server's
    }
}

asio::awaitable<void> Load::run() {
    asio::steady_timer timer(ioc_);
    const auto start = Clock::now();
    std::string why;
    if (opt_.mode == Mode::resume) why = co_await prime();
    if (!why.empty()) {
        fmt::print(stderr, "tls_load: the priming handshake gave no resumable session: {}\n", why);
        c_.errors[e_prime] = 1;
        print(0, 0, std::nullopt);
        exit_code_ = 1;
        stopping_ = true;
        ioc_.stop();
        co_return;
    }
    for (unsigned i = 0; i < opt_.concurrency; ++i) asio::co_spawn(ioc_, slot(), asio::detached);

    auto secs = [](double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); };
    timer.expires_at(start + secs(opt_.warmup));
    co_await timer.async_wait(kAwait);

    auto server_cpu = [&]() -> std::optional<double> {
        if (opt_.server_pids.empty()) return std::nullopt;
        double sum = 0;
        for (int pid : opt_.server_pids) {
            auto v = process_cpu_s(pid);
            if (!v) return std::nullopt;
            sum += *v;
        }
        return sum;
    };
    const auto s0 = server_cpu();
    const double c0 = self_cpu_s();
    const auto t0 = Clock::now();
    measuring_ = true;
    timer.expires_at(t0 + secs(opt_.duration));
    co_await timer.async_wait(kAwait);
    const auto t1 = Clock::now();
    measuring_ = false;
    const double c1 = self_cpu_s();
    const auto s1 = server_cpu();
    stopping_ = true;

    std::optional<double> sdelta;
    if (s0 && s1) sdelta = *s1 - *s0;
    print(std::chrono::duration<double>(t1 - t0).count(), c1 - c0, sdelta);
    ioc_.stop();
}

void Load::print(double seconds, double client_cpu, std::optional<double> server_cpu) {
    uint64_t errors = 0;
    std::string classes;
    for (int e = 0; e < e_count; ++e) {
        errors += c_.errors[e];
        classes += fmt::format("{}\"{}\":{}", e ? "," : "", kErrNames[e], c_.errors[e]);
    }
    uint64_t events = opt_.mode == Mode::full ? c_.handshakes : opt_.mode == Mode::resume ? c_.resumed : c_.requests;
    fmt::print(
        "{{\"mode\":\"{}\",\"handshakes\":{},\"resumed\":{},\"requests\":{},\"errors\":{},"
        "\"seconds\":{:.3f},\"rate\":{:.1f},\"client_cpu_s\":{:.3f},\"server_cpu_s\":{},"
        "\"concurrency\":{},\"error_classes\":{{{}}},\"negotiated\":{}}}\n",
        opt_.mode_name, c_.handshakes, c_.resumed, c_.requests, errors, seconds, seconds > 0 ? double(events) / seconds : 0.0, client_cpu,
        server_cpu ? fmt::format("{:.3f}", *server_cpu) : "null", opt_.concurrency, classes,
        negotiated_.empty() ? "null" : negotiated_);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    std::string err = parse_args(argc, argv, opt);
    if (err == "help") {
        fmt::print("{}", kUsage);
        return 0;
    }
    if (!err.empty()) {
        fmt::print(stderr, "tls_load: {}\n{}", err, kUsage);
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN);
    asio::io_context ioc{1};
    Load load(ioc, opt);
    if (std::string e = load.init(); !e.empty()) {
        fmt::print(stderr, "tls_load: {}\n", e);
        return 2;
    }
    // Watchdog: the run ends by itself at warmup + duration; this bounds it
    // even if priming or the server hangs.
    asio::steady_timer watchdog(ioc);
    bool fired = false;
    watchdog.expires_after(std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(opt.warmup + opt.duration + 15)));
    watchdog.async_wait([&](error_code ec) {
        if (ec) return;
        fired = true;
        ioc.stop();
    });
    asio::co_spawn(ioc, load.run(), asio::detached);
    ioc.run();
    if (fired) {
        fmt::print(stderr, "tls_load: watchdog: the run did not finish in time\n");
        return 1;
    }
    return load.exit_code();
}
