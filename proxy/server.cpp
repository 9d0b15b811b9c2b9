#include "proxy/server.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <fmt/format.h>

#include "config/loader.hpp"
#include "proxy/admin.hpp"
#include "proxy/log.hpp"
#include "proxy/openai_body.hpp"

namespace infergate::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

std::vector<std::string> check_config(const std::string& path, std::vector<std::string>* warnings) {
    std::vector<std::string> out;
    config::LoadResult lr = config::load_config_file(path);
    for (const auto& e : lr.errors) out.push_back(e.to_string());
    if (!lr.ok()) return out;
    EndpointRegistry reg;
    RuntimeBuild b = build_runtime(lr.config, reg, 0);
    for (const auto& e : b.errors) out.push_back(e.to_string());
    // Certificates load as they would at start (files, key match, expiry).
    asio::io_context ioc;
    std::vector<std::unique_ptr<Worker>> none;
    TlsListeners tls(ioc, none);
    std::vector<std::shared_ptr<const tls::ServerTls>> built;
    for (auto& e : tls.build(*lr.config, built)) out.push_back(std::move(e));
    if (warnings)
        for (const auto& w : b.warnings) warnings->push_back(w.to_string());
    return out;
}

Server::Server(ServerOptions opts) : opts_(std::move(opts)) {
    registry_ = std::make_shared<prometheus::Registry>();
    reloads_ = &prometheus::BuildCounter()
                    .Name("infergate_config_reloads_total")
                    .Help("Config reloads by result")
                    .Register(*registry_);
    reload_ok_ = &reloads_->Add({{"result", "ok"}});
    reload_failed_ = &reloads_->Add({{"result", "failed"}});
}

Server::~Server() {
    for (auto& w : workers_) w->stop();
    for (auto& w : workers_) w->join();
}

static tcp::endpoint resolve(const config::Address& a) {
    error_code ec;
    auto addr = asio::ip::make_address(a.host, ec);
    if (!ec) return {addr, a.port};
    asio::io_context tmp;
    tcp::resolver r(tmp);
    auto results = r.resolve(a.host, std::to_string(a.port));  // throws: start-up only
    return *results.begin();
}

bool Server::write_ready_file(const std::vector<std::pair<std::string, uint16_t>>& listeners,
                              uint16_t admin_port) {
    if (opts_.ready_file.empty()) return true;
    std::string json = "{\"listeners\":{";
    for (size_t i = 0; i < listeners.size(); ++i)
        json += fmt::format("{}{}:{}", i ? "," : "", json_quote(listeners[i].first), listeners[i].second);
    json += fmt::format("}},\"admin\":{},\"pid\":{}}}\n", admin_port, ::getpid());
    std::string tmp = opts_.ready_file + ".tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        f << json;
        if (!f) return false;
    }
    // Atomic: a reader never sees a half-written file.
    return std::rename(tmp.c_str(), opts_.ready_file.c_str()) == 0;
}

bool Server::start() {
    config::LoadResult lr = config::load_config_file(opts_.config_path);
    if (!lr.ok()) {
        for (const auto& e : lr.errors) log_error("{}", e.to_string());
        return false;
    }
    RuntimeBuild b = build_runtime(lr.config, registry_endpoints_, ++generation_);
    for (const auto& w : b.warnings) log_warn("{}", w.to_string());
    if (!b.runtime) {
        for (const auto& e : b.errors) log_error("{}", e.to_string());
        return false;
    }
    runtime_ = b.runtime;
    const config::Config& cfg = *runtime_->config;
    std::string err;
    if (!shared_.access_log.open(cfg.access_log.path, err)) {
        log_error("{}", err);
        return false;
    }
    tls_ = std::make_unique<TlsListeners>(ioc_, workers_);
    std::vector<std::shared_ptr<const tls::ServerTls>> tls_built;
    if (auto errors = tls_->build(cfg, tls_built); !errors.empty()) {
        for (const auto& e : errors) log_error("{}", e);
        return false;
    }
    unsigned n = cfg.workers ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>(i, shared_, runtime_));

    std::vector<std::pair<std::string, uint16_t>> bound;
    try {
        for (size_t li = 0; li < cfg.listeners.size(); ++li) {
            const config::Listener& l = cfg.listeners[li];
            tcp::endpoint ep = resolve(l.address);
            // The first worker resolves port 0; the others share its port.
            tcp::endpoint first = workers_[0]->listen(ep, l.name, tls_built[li]);
            for (size_t i = 1; i < workers_.size(); ++i) workers_[i]->listen(first, l.name, tls_built[li]);
            bound.emplace_back(l.name, first.port());
            log_info("listener '{}' on {}:{} ({}, {} workers)", l.name, first.address().to_string(),
                     first.port(), l.tls ? "TLS" : "plain HTTP", workers_.size());
        }
        tcp::endpoint aep = resolve(cfg.admin.address);
        admin_ = std::make_unique<tcp::acceptor>(ioc_);
        admin_->open(aep.protocol());
        admin_->set_option(asio::socket_base::reuse_address(true));
        admin_->bind(aep);
        admin_->listen();
        log_info("admin on {}:{}", aep.address().to_string(), admin_->local_endpoint().port());
    } catch (const std::exception& e) {
        log_error("cannot listen: {}", e.what());
        return false;
    }

    tls_->adopt(cfg, std::move(tls_built), false);
    scraper_ = std::make_unique<Scraper>(ioc_);
    scraper_->update(*runtime_);
    for (auto& w : workers_) w->start();
    accept_admin();
    wait_signals();
    if (!write_ready_file(bound, admin_->local_endpoint().port())) {
        log_error("cannot write ready file '{}'", opts_.ready_file);
        return false;
    }
    log_info("infergate {} ready", INFERGATE_VERSION);
    return true;
}

void Server::accept_admin() {
    admin_->async_accept([this](error_code ec, tcp::socket s) {
        if (ec == asio::error::operation_aborted || !admin_->is_open()) return;
        if (ec) {
            // Out of descriptors: back off instead of spinning on the error.
            auto t = std::make_shared<asio::steady_timer>(ioc_, std::chrono::milliseconds(50));
            t->async_wait([this, t](error_code) {
                if (admin_ && admin_->is_open()) accept_admin();
            });
            return;
        }
        asio::co_spawn(ioc_, serve_admin(*this, std::move(s)), asio::detached);
        accept_admin();
    });
}

void Server::wait_signals() {
    signals_.add(SIGHUP);
    signals_.add(SIGTERM);
    signals_.add(SIGINT);
    signals_.add(SIGUSR1);
    signals_.async_wait([this](error_code ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
            reload();
        } else if (sig == SIGUSR1) {
            std::string err;
            if (shared_.access_log.reopen(err))
                log_info("access log reopened");
            else
                log_error("{}", err);
        } else if (sig == SIGTERM || sig == SIGINT) {
            if (draining_) {
                log_warn("second signal while draining: stopping now");
                finish();
                return;
            }
            begin_drain();
        }
        wait_signals();
    });
}

void Server::reload() {
    log_info("reloading {}", opts_.config_path);
    config::LoadResult lr = config::load_config_file(opts_.config_path);
    if (!lr.ok()) {
        for (const auto& e : lr.errors) log_error("{}", e.to_string());
        log_error("reload refused: the running config stays");
        reload_failed_->Increment();
        return;
    }
    auto changes = config::restart_required_changes(*runtime_->config, *lr.config);
    if (!changes.empty()) {
        for (const auto& c : changes) log_error("{}", c);
        log_error("reload refused: the running config stays");
        reload_failed_->Increment();
        return;
    }
    // Build against a copy so a failed build leaves the registry intact.
    EndpointRegistry reg = registry_endpoints_;
    RuntimeBuild b = build_runtime(lr.config, reg, generation_ + 1, runtime_.get());
    for (const auto& w : b.warnings) log_warn("{}", w.to_string());
    if (!b.runtime) {
        for (const auto& e : b.errors) log_error("{}", e.to_string());
        log_error("reload refused: the running config stays");
        reload_failed_->Increment();
        return;
    }
    std::vector<std::shared_ptr<const tls::ServerTls>> tls_built;
    if (auto errors = tls_->build(*lr.config, tls_built); !errors.empty()) {
        for (const auto& e : errors) log_error("{}", e);
        log_error("reload refused: the running config and certificates stay");
        reload_failed_->Increment();
        return;
    }
    if (lr.config->access_log.path != runtime_->config->access_log.path) {
        std::string err;
        if (!shared_.access_log.open(lr.config->access_log.path, err)) {
            log_error("{}; reload refused: the running config stays", err);
            reload_failed_->Increment();
            return;
        }
    }
    registry_endpoints_ = std::move(reg);
    ++generation_;
    runtime_ = b.runtime;
    for (auto& w : workers_) w->publish(runtime_);
    tls_->adopt(*runtime_->config, std::move(tls_built), true);
    scraper_->update(*runtime_);
    reload_ok_->Increment();
    log_info("config reloaded (generation {})", generation_);
}

void Server::begin_drain() {
    draining_ = true;
    log_info("draining: /readyz is 503, listeners closed, waiting up to {} ms for in-flight requests",
             runtime_->config->timeouts.drain.count());
    for (auto& w : workers_)
        w->drain([this] { asio::post(ioc_, [this] {
            if (++drained_ == static_cast<int>(workers_.size())) {
                log_info("drained: all connections finished");
                finish();
            }
        }); });
    drain_timer_.expires_after(runtime_->config->timeouts.drain);
    drain_timer_.async_wait([this](error_code ec) {
        if (ec) return;
        log_warn("drain timeout reached: closing the remaining connections");
        finish();
    });
}

void Server::finish() {
    for (auto& w : workers_) w->stop();
    for (auto& w : workers_) w->join();
    drain_timer_.cancel();
    signals_.cancel();
    if (scraper_) scraper_->stop();
    if (tls_) tls_->stop();
    if (admin_) {
        error_code ig;
        admin_->close(ig);
    }
    ioc_.stop();
}

// Connections need descriptors: raise the soft limit to the hard one, as
// HAProxy does, rather than fail accepts at the default 1024.
static void raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) log_warn("cannot raise the file descriptor limit");
    }
}

int Server::run() {
    raise_fd_limit();
    if (!start()) {
        finish();
        return 1;
    }
    ioc_.run();
    return exit_code_;
}

}  // namespace infergate::proxy
