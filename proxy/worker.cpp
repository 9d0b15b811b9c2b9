#include "proxy/worker.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <iostream>

#include "picker/index_backlog.hpp"
#include "proxy/downstream.hpp"
#include "proxy/responses.hpp"

namespace infergate::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

Worker::Worker(size_t index, Shared& shared, std::shared_ptr<const Runtime> runtime)
    : index_(index), shared_(shared), runtime_(std::move(runtime)),
      rng_(static_cast<uint32_t>(std::random_device{}() ^ (index * 0x9e3779b9u))) {
    upstreams_.set_idle_timeout(runtime_->config->timeouts.upstream_keepalive_idle);
    scratch_.rng.seed(static_cast<uint32_t>(rng_()));
}

Worker::~Worker() { join(); }

tcp::endpoint Worker::listen(const tcp::endpoint& ep, const std::string& name,
                             std::shared_ptr<const tls::ServerTls> tls) {
    auto acc = std::make_unique<tcp::acceptor>(ioc_);
    acc->open(ep.protocol());
    acc->set_option(asio::socket_base::reuse_address(true));
    // Every worker binds its own socket to the same port; the kernel
    // spreads new connections across them (no shared accept queue lock).
    int one = 1;
    if (::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        throw std::runtime_error("setsockopt(SO_REUSEPORT) failed");
    if (ep.address().is_v6()) acc->set_option(asio::ip::v6_only(true));
    acc->bind(ep);
    acc->listen(asio::socket_base::max_listen_connections);
    tcp::endpoint bound = acc->local_endpoint();
    auto l = std::make_unique<Listener>();
    l->name = name;
    l->acceptor = std::move(acc);
    l->tls = std::move(tls);
    listeners_.push_back(std::move(l));
    return bound;
}

void Worker::start() {
    for (auto& l : listeners_) accept_loop(*l);
    upstreams_.start_sweeping();
    thread_ = std::thread([this] {
        // A handler that throws is a bug; it must not take the worker down
        // silently, so log it and keep serving the other connections.
        for (;;) {
            try {
                ioc_.run();
                break;
            } catch (const std::exception& e) {
                std::cerr << fmt::format("worker {}: unexpected exception: {}\n", index_, e.what());
            }
        }
    });
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::accept_loop(Listener& l) {
    tcp::acceptor& acc = *l.acceptor;
    // Accepted on the io_context's executor (stream.hpp, Socket).
    acc.async_accept(ioc_, [this, &l, &acc](error_code ec, Socket sock) {
        if (ec == asio::error::operation_aborted || !acc.is_open()) return;
        if (ec) {
            // Out of descriptors or buffers: accepting again at once would
            // spin on the same error. Back off briefly; the connections
            // already open keep being served meanwhile.
            stats_.count_downstream_error("accept_failed");
            auto t = std::make_shared<asio::steady_timer>(ioc_, std::chrono::milliseconds(50));
            t->async_wait([this, &l, &acc, t](error_code) {
                if (acc.is_open()) accept_loop(l);
            });
            return;
        }
        stats_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
        if (conns_.size() >= runtime_->config->limits.max_connections_per_worker) {
            // Over the cap: answer 503 and close rather than queue. On a TLS
            // listener a plain-text 503 would be noise to the client, and a
            // handshake is what the cap saves: close at once.
            stats_.connections_rejected.fetch_add(1, std::memory_order_relaxed);
            if (l.tls) {
                error_code ig;
                sock.close(ig);
            } else {
                auto s = std::make_shared<Socket>(std::move(sock));
                auto msg = std::make_shared<std::string>(
                    error_response(503, "too many connections", false, "Retry-After: 1\r\n"));
                asio::async_write(*s, asio::buffer(*msg), [s, msg](error_code, size_t) {
                    error_code ig;
                    s->shutdown(tcp::socket::shutdown_both, ig);
                    s->close(ig);
                });
            }
        } else {
            std::make_shared<DownstreamConn>(*this, std::move(sock), l.tls)->start();
        }
        accept_loop(l);
    });
}

void Worker::publish(std::shared_ptr<const Runtime> rt) {
    asio::post(ioc_, [this, rt = std::move(rt)]() mutable {
        upstreams_.set_idle_timeout(rt->config->timeouts.upstream_keepalive_idle);
        runtime_ = std::move(rt);
    });
}

void Worker::publish_tls(const std::string& name, std::shared_ptr<const tls::ServerTls> tls) {
    asio::post(ioc_, [this, name, tls = std::move(tls)]() mutable {
        for (auto& l : listeners_)
            if (l->name == name && l->tls) l->tls = tls;
    });
}

void Worker::drain(std::function<void()> on_drained) {
    asio::post(ioc_, [this, cb = std::move(on_drained)]() mutable {
        draining_ = true;
        on_drained_ = std::move(cb);
        for (auto& l : listeners_) {
            error_code ig;
            l->acceptor->close(ig);
        }
        // Copy: closing may remove connections from the set.
        std::vector<DownstreamConn*> now(conns_.begin(), conns_.end());
        for (DownstreamConn* c : now) c->close_if_idle();
        check_drained();
    });
}

void Worker::stop() {
    asio::post(ioc_, [this] {
        upstreams_.close_all();
        ioc_.stop();
    });
}

void Worker::add(DownstreamConn* c) {
    conns_.insert(c);
    stats_.connections_open.fetch_add(1, std::memory_order_relaxed);
}

void Worker::remove(DownstreamConn* c) {
    conns_.erase(c);
    stats_.connections_open.fetch_sub(1, std::memory_order_relaxed);
    if (draining_) check_drained();
}

// Blocks per slice: about 100 us of index work (perf, the large-prompt
// benchmark: ~1.5 us per block inserted under eviction), so no connection
// of this worker waits longer than that behind the backlog.
constexpr size_t kBacklogSlice = 64;

void Worker::schedule_index_backlog() {
    if (backlog_posted_ || !picker::IndexBacklog::mine().pending()) return;
    backlog_posted_ = true;
    asio::post(ioc_, [this] {
        backlog_posted_ = false;
        picker::IndexBacklog::mine().run(kBacklogSlice);
        schedule_index_backlog();  // behind whatever became ready meanwhile
    });
}

void Worker::check_drained() {
    if (draining_ && conns_.empty() && on_drained_) {
        auto cb = std::move(on_drained_);
        on_drained_ = nullptr;
        cb();
    }
}

}  // namespace infergate::proxy
