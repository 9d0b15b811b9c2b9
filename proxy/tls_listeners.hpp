// The certificates of every TLS listener, owned by the control thread:
// built at start, rebuilt on SIGHUP (with the config) and when a
// certificate, key or CA file changes on disk, and published to the
// workers for new connections.
//
// File changes are found by polling stat() of each file (following
// symlinks) every listener's watch_interval: Kubernetes updates a mounted
// Secret by swapping a symlink, which changes the target's inode and
// mtime, and a few stat calls a second cost nothing. A rebuild that fails
// (unreadable file, key mismatch, expired certificate) is logged and the
// certificate in service stays; it is retried when the files change again.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/config.hpp"
#include "tls/server_context.hpp"
#include "tls/ticket_keys.hpp"

namespace infergate::proxy {

class Worker;

class TlsListeners {
public:
    TlsListeners(boost::asio::io_context& ioc, const std::vector<std::unique_ptr<Worker>>& workers)
        : ioc_(ioc), workers_(workers), timer_(ioc) {}

    // Builds every TLS listener of `cfg` (index = position in
    // cfg.listeners). Errors are "FILE:LINE:COL: message" lines; on any,
    // nothing changes.
    std::vector<std::string> build(const config::Config& cfg, std::vector<std::shared_ptr<const tls::ServerTls>>& out);
    // Adopts what build() returned for `cfg` and publishes it to the
    // workers (after start, a reload), then (re)starts the file watch.
    void adopt(const config::Config& cfg, std::vector<std::shared_ptr<const tls::ServerTls>> built, bool publish);
    void stop();

    struct Entry {
        std::string name;  // listener name
        std::shared_ptr<tls::TicketKeys> keys;
        std::shared_ptr<const tls::ServerTls> current;
        std::vector<std::string> files;  // cert, key and CA files
        std::string stamp;               // their identities at the last attempt
    };
    // Read by the metrics export (control thread).
    const std::vector<Entry>& entries() const { return entries_; }
    uint64_t reloads_ok() const { return reloads_ok_; }
    uint64_t reloads_failed() const { return reloads_failed_; }

private:
    void watch();
    void check();

    boost::asio::io_context& ioc_;
    const std::vector<std::unique_ptr<Worker>>& workers_;
    boost::asio::steady_timer timer_;
    std::vector<Entry> entries_;       // one per listener; `current` null for plain ones
    std::chrono::milliseconds interval_{0};
    uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
    bool stopped_ = false;
};

}  // namespace infergate::proxy
