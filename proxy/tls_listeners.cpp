#include "proxy/tls_listeners.hpp"

#include <fmt/format.h>

#include "proxy/log.hpp"
#include "tls/file_stamp.hpp"
#include "proxy/worker.hpp"

namespace infergate::proxy {

static std::vector<std::string> files_of(const config::ListenerTls& t) {
    std::vector<std::string> out;
    for (const auto& c : t.certificates) {
        out.push_back(c.cert_file.path);
        out.push_back(c.key_file.path);
    }
    if (!t.client_ca_file.empty()) out.push_back(t.client_ca_file.path);
    return out;
}

std::vector<std::string> TlsListeners::build(const config::Config& cfg,
                                             std::vector<std::shared_ptr<const tls::ServerTls>>& out) {
    std::vector<std::string> errors;
    out.assign(cfg.listeners.size(), nullptr);
    for (size_t i = 0; i < cfg.listeners.size(); ++i) {
        const config::Listener& l = cfg.listeners[i];
        if (!l.tls) continue;
        // Ticket keys outlive certificate reloads: sessions keep resuming.
        std::shared_ptr<tls::TicketKeys> keys;
        for (const Entry& e : entries_)
            if (e.name == l.name) keys = e.keys;
        auto period = std::chrono::duration_cast<std::chrono::seconds>(l.tls->session_timeout);
        if (!keys) keys = std::make_shared<tls::TicketKeys>(period);  // set_period on adopt: a refused reload changes nothing
        std::string err;
        config::Mark where;
        out[i] = tls::ServerTls::build(*l.tls, l.name, keys, err, where);
        if (!out[i])
            errors.push_back(config::ConfigError{where, fmt::format("listener '{}': {}", l.name, err)}.to_string());
    }
    return errors;
}

void TlsListeners::adopt(const config::Config& cfg, std::vector<std::shared_ptr<const tls::ServerTls>> built,
                         bool publish) {
    std::vector<Entry> next(cfg.listeners.size());
    interval_ = std::chrono::milliseconds(0);
    for (size_t i = 0; i < cfg.listeners.size(); ++i) {
        const config::Listener& l = cfg.listeners[i];
        Entry& e = next[i];
        e.name = l.name;
        if (!l.tls) continue;
        e.current = built[i];
        e.keys = built[i]->keys();
        e.keys->set_period(std::chrono::duration_cast<std::chrono::seconds>(l.tls->session_timeout));
        e.files = files_of(*l.tls);
        e.stamp = tls::file_stamp(e.files);
        if (l.tls->watch_interval.count() > 0 && (interval_.count() == 0 || l.tls->watch_interval < interval_))
            interval_ = l.tls->watch_interval;
        if (publish)
            for (const auto& w : workers_) w->publish_tls(e.name, e.current);
    }
    entries_ = std::move(next);
    timer_.cancel();
    if (interval_.count() > 0 && !stopped_) watch();
}

void TlsListeners::watch() {
    timer_.expires_after(interval_);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || stopped_) return;
        check();
        watch();
    });
}

void TlsListeners::check() {
    for (size_t i = 0; i < entries_.size(); ++i) {
        Entry& e = entries_[i];
        if (!e.current) continue;
        std::string now = tls::file_stamp(e.files);
        if (now == e.stamp) continue;
        e.stamp = now;  // retried only when the files change again
        std::string err;
        config::Mark where;
        auto next = tls::ServerTls::build(e.current->config(), e.name, e.keys, err, where);
        if (!next) {
            ++reloads_failed_;
            log_error("listener '{}': certificate reload refused, the certificate in service stays: {}", e.name, err);
            continue;
        }
        ++reloads_ok_;
        e.current = next;
        for (const auto& w : workers_) w->publish_tls(e.name, next);
        log_info("listener '{}': certificates reloaded from disk", e.name);
    }
}

void TlsListeners::stop() {
    stopped_ = true;
    timer_.cancel();
}

}  // namespace infergate::proxy
