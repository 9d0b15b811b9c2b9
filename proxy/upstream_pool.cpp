#include "proxy/upstream_pool.hpp"


namespace infergate::proxy {

void UpstreamConn::on_new_session(SSL*, SSL_SESSION* session) { pool.save_session(endpoint, tls, session); }

UpstreamPool::UpstreamPool(boost::asio::io_context& ioc) : ioc_(ioc), sweep_timer_(ioc) {}

UpstreamPool::~UpstreamPool() { idle_.clear(); }

static constexpr std::chrono::milliseconds kTrustedIdle{1000};

// True if the peer has not closed the connection and sent nothing (a TLS
// connection also holds no unread record: an alert or a late ticket makes
// it unusable for a new exchange).
static bool still_open(UpstreamConn& c) {
    // eof: closed; bytes: unsolicited, unusable; error: broken.
    return c.stream.peek_kernel() == Stream::Kernel::empty && !c.stream.has_buffered();
}

std::unique_ptr<UpstreamConn> UpstreamPool::take(const std::string& endpoint, const tls::ClientTls* tls,
                                                 std::chrono::steady_clock::time_point now) {
    auto it = idle_.find(endpoint);
    if (it == idle_.end()) return nullptr;
    auto& v = it->second;
    // Newest first; connections under another pool's TLS settings stay
    // for that pool, dead ones go.
    for (size_t i = v.size(); i-- > 0;) {
        if (v[i]->tls.get() != tls) continue;
        std::unique_ptr<UpstreamConn> c = std::move(v[i]);
        v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
        // A plain connection used within kTrustedIdle is taken without the
        // peek: its system call cost ~5% of a small request, and a close in
        // that window (a crash; a server that means to close says so in its
        // response) fails the exchange before any response byte, which
        // retries on a fresh connection (forward.cpp, retry_fresh) as a
        // close after the peek would anyway.
        if ((!c->tls && now - c->idle_since < kTrustedIdle) || still_open(*c)) {
            c->reused = true;
            return c;
        }
    }
    return nullptr;
}

void UpstreamPool::give_back(std::unique_ptr<UpstreamConn> conn) {
    if (stopped_ || !conn->stream.socket().is_open()) return;
    conn->stream.release_buffers();
    conn->idle_since = std::chrono::steady_clock::now();
    idle_[conn->endpoint].push_back(std::move(conn));
}

tls::SslSessionRef UpstreamPool::session(const std::string& endpoint, const tls::ClientTls* tls) const {
    auto it = sessions_.find(endpoint);
    if (it == sessions_.end()) return nullptr;
    for (const Saved& s : it->second)
        if (s.tls.get() == tls) return tls::share(s.session.get());
    return nullptr;
}

void UpstreamPool::save_session(const std::string& endpoint, std::shared_ptr<const tls::ClientTls> tls,
                                SSL_SESSION* s) {
    if (stopped_ || !SSL_SESSION_is_resumable(s)) return;
    std::vector<Saved>& slots = sessions_[endpoint];
    for (Saved& slot : slots) {
        if (slot.tls != tls) continue;
        slot.session = tls::share(s);
        return;
    }
    // A context no longer used (a reload replaced it) gives its slot up.
    std::erase_if(slots, [](const Saved& x) { return x.tls.use_count() <= 1; });
    slots.push_back({std::move(tls), tls::share(s)});
}

void UpstreamPool::start_sweeping() {
    sweep_timer_.expires_after(idle_timeout_ / 8 + std::chrono::milliseconds(1));
    sweep_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || stopped_) return;
        sweep();
        start_sweeping();
    });
}

void UpstreamPool::sweep() {
    auto limit = std::chrono::steady_clock::now() - idle_timeout_;
    for (auto it = idle_.begin(); it != idle_.end();) {
        auto& v = it->second;
        // Oldest first: connections are appended as they go idle.
        size_t n = 0;
        while (n < v.size() && v[n]->idle_since < limit) ++n;
        v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n));
        it = v.empty() ? idle_.erase(it) : std::next(it);
    }
}

void UpstreamPool::close_all() {
    stopped_ = true;
    sweep_timer_.cancel();
    idle_.clear();
}

size_t UpstreamPool::idle_count() const {
    size_t n = 0;
    for (auto& [k, v] : idle_) n += v.size();
    return n;
}

}  // namespace infergate::proxy
