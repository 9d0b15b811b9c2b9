// One worker thread: its own io_context, its own SO_REUSEPORT listening
// sockets, connections that never leave it, its upstream connection pool,
// its statistics and its copy of the runtime snapshot.
//
// Cross-thread contract: other threads touch a worker only by posting to
// its io_context (new snapshot, drain); `stats` is read by the admin scrape
// through its own thread-safe accessors.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <unordered_set>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "picker/scheduler.hpp"
#include "proxy/access_log.hpp"
#include "proxy/runtime.hpp"
#include "proxy/stats.hpp"
#include "proxy/upstream_pool.hpp"
#include "tls/server_context.hpp"

namespace infergate::proxy {

class DownstreamConn;

// Process-wide state shared by every worker; outlives them.
struct Shared {
    std::atomic<int64_t> upstream_requests{0};  // concurrent, all workers
    AccessLog access_log;
    std::atomic<int> workers_drained{0};
};

class Worker {
public:
    Worker(size_t index, Shared& shared, std::shared_ptr<const Runtime> runtime);
    ~Worker();

    // Opens a listening socket on `ep` with SO_REUSEPORT; returns the
    // bound endpoint (port 0 resolved). Listeners are numbered in the
    // order they are opened; `tls` null means plain HTTP. Called before
    // start().
    boost::asio::ip::tcp::endpoint listen(const boost::asio::ip::tcp::endpoint& ep, const std::string& name,
                                          std::shared_ptr<const tls::ServerTls> tls);
    void start();
    void join();

    // Thread-safe: posted to this worker.
    void publish(std::shared_ptr<const Runtime> rt);
    // Thread-safe: listener `name`'s connections accepted from now on use
    // `tls` (a certificate reload); open ones keep theirs. By name: a
    // reload may list the listeners in another order.
    void publish_tls(const std::string& name, std::shared_ptr<const tls::ServerTls> tls);
    // Thread-safe: stop accepting, close idle connections, let active ones
    // finish; `on_drained` runs (on this worker) once none is left.
    void drain(std::function<void()> on_drained);
    // Thread-safe: stop the event loop now.
    void stop();

    // --- used by this worker's connections only ---
    size_t index() const { return index_; }
    boost::asio::io_context& ioc() { return ioc_; }
    const std::shared_ptr<const Runtime>& runtime() const { return runtime_; }
    Shared& shared() { return shared_; }
    UpstreamPool& upstreams() { return upstreams_; }
    WorkerStats& stats() { return stats_; }
    picker::PickScratch& scratch() { return scratch_; }
    std::minstd_rand& rng() { return rng_; }
    bool draining() const { return draining_; }
    void add(DownstreamConn* c);
    void remove(DownstreamConn* c);
    uint64_t next_request_seq() { return ++request_seq_; }
    // After a pick: applies this thread's prefix-index backlog
    // (picker/index_backlog.hpp) in slices, one posted handler per slice,
    // so that other connections' handlers run between slices.
    void schedule_index_backlog();

private:
    struct Listener {
        std::string name;
        std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor;
        std::shared_ptr<const tls::ServerTls> tls;
    };
    void accept_loop(Listener& l);
    void check_drained();

    size_t index_;
    Shared& shared_;
    boost::asio::io_context ioc_{1};
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::shared_ptr<const Runtime> runtime_;
    UpstreamPool upstreams_{ioc_};
    WorkerStats stats_;
    picker::PickScratch scratch_;
    std::minstd_rand rng_;
    std::unordered_set<DownstreamConn*> conns_;
    bool draining_ = false;
    std::function<void()> on_drained_;
    uint64_t request_seq_ = 0;
    bool backlog_posted_ = false;
    std::thread thread_;
};

}  // namespace infergate::proxy
