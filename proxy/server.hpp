// The process: workers, the control thread (admin listener, scraper,
// signals, reload, drain) and the ready file.
//
// Threads: run() is called on the main thread, which becomes the control
// thread. Workers receive new runtime snapshots by post(); the control
// thread owns the endpoint registry, the scraper and the admin listener.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "proxy/runtime.hpp"
#include "proxy/scraper.hpp"
#include "proxy/tls_listeners.hpp"
#include "proxy/worker.hpp"

namespace infergate::proxy {

struct ServerOptions {
    std::string config_path;
    std::string ready_file;  // empty: none
};

class Server {
public:
    explicit Server(ServerOptions opts);
    ~Server();
    // Loads the config, binds every listener, starts the workers and runs
    // the control loop until drained or stopped. Returns the exit code.
    int run();

    // --- read by the admin listener (control thread) ---
    const Runtime& runtime() const { return *runtime_; }
    const std::vector<std::unique_ptr<Worker>>& workers() const { return workers_; }
    bool draining() const { return draining_; }
    prometheus::Registry& registry() { return *registry_; }
    const TlsListeners* tls_listeners() const { return tls_.get(); }

private:
    bool start();
    void reload();
    void begin_drain();
    void finish();
    void wait_signals();
    void accept_admin();
    bool write_ready_file(const std::vector<std::pair<std::string, uint16_t>>& listeners,
                          uint16_t admin_port);

    ServerOptions opts_;
    boost::asio::io_context ioc_{1};
    boost::asio::signal_set signals_{ioc_};
    boost::asio::steady_timer drain_timer_{ioc_};
    std::unique_ptr<boost::asio::ip::tcp::acceptor> admin_;
    Shared shared_;
    EndpointRegistry registry_endpoints_;
    std::shared_ptr<const Runtime> runtime_;
    uint64_t generation_ = 0;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<Scraper> scraper_;
    std::unique_ptr<TlsListeners> tls_;
    bool draining_ = false;
    int drained_ = 0;
    int exit_code_ = 0;

    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>* reloads_ = nullptr;
    prometheus::Counter* reload_ok_ = nullptr;
    prometheus::Counter* reload_failed_ = nullptr;
};

// Validates a config file as the server would load it (config and every
// scheduler). Returns the errors, "FILE:LINE:COL: message" each.
// Errors (empty: the config would load); `warnings`, when given, gets
// what the load would log as warnings.
std::vector<std::string> check_config(const std::string& path, std::vector<std::string>* warnings = nullptr);

}  // namespace infergate::proxy
