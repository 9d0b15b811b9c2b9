#include "proxy/upstream_pool.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace infergate::proxy {

UpstreamPool::UpstreamPool(boost::asio::io_context& ioc) : ioc_(ioc), sweep_timer_(ioc) {}

// True if the peer has not closed the connection and sent nothing.
static bool still_open(boost::asio::ip::tcp::socket& s) {
    char c;
    ssize_t r = ::recv(s.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    return false;  // 0: closed; >0: unsolicited bytes, unusable
}

std::unique_ptr<UpstreamConn> UpstreamPool::take(const std::string& endpoint) {
    auto it = idle_.find(endpoint);
    if (it == idle_.end()) return nullptr;
    auto& v = it->second;
    while (!v.empty()) {
        std::unique_ptr<UpstreamConn> c = std::move(v.back());
        v.pop_back();
        if (still_open(c->socket)) {
            c->reused = true;
            return c;
        }
    }
    return nullptr;
}

void UpstreamPool::give_back(std::unique_ptr<UpstreamConn> conn) {
    if (stopped_ || !conn->socket.is_open()) return;
    conn->idle_since = std::chrono::steady_clock::now();
    idle_[conn->endpoint].push_back(std::move(conn));
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
