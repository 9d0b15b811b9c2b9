// Live state of one model-server endpoint, shared by all workers.
//
// Thread-safety: every mutable field is an atomic read and written with
// relaxed ordering. The scraper (control thread) writes the scraped
// metrics; workers write in_flight, down and the debug scores. A reader
// may see fields from two consecutive scrapes mixed; every consumer
// tolerates that (each field is individually valid), and in exchange the
// request path reads endpoint state without a lock or a refcount.
//
// Lifetime: owned through std::shared_ptr by the runtime snapshots that
// list it; a reload that keeps an endpoint (same pool, same address)
// keeps the same EndpointState, so counts and metrics survive reloads.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "config/config.hpp"

namespace infergate::picker {

using Clock = std::chrono::steady_clock;

// Nanoseconds on Clock since its epoch; 0 means "never".
inline int64_t to_ns(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// One scrape's worth of the signals the scorers read.
struct EngineMetrics {
    double waiting = 0;   // requests queued in the engine
    double running = 0;   // requests in the running batch
    double kv_usage = 0;  // KV-cache utilisation in [0, 1]
};

class EndpointState {
public:
    EndpointState(std::string pool, config::Endpoint endpoint);
    EndpointState(const EndpointState&) = delete;
    EndpointState& operator=(const EndpointState&) = delete;

    const std::string& pool() const { return pool_; }
    const std::string& id() const { return id_; }  // "host:port"
    // base64(id): the session-affinity token echoed to clients (the
    // reference encodes the pod's namespace/name the same way).
    const std::string& token() const { return token_; }
    // Process-unique, never reused: the prefix index names endpoints by it.
    uint32_t uid() const { return uid_; }
    const config::Endpoint& config() const { return config_; }

    // --- scraped metrics (written by the scraper only) ---
    void publish(const EngineMetrics& m, Clock::time_point at);
    void scrape_failed(Clock::time_point at);
    EngineMetrics metrics() const;
    Clock::time_point scraped_at() const;  // last good scrape; epoch if never
    bool last_scrape_ok() const { return last_scrape_ok_.load(std::memory_order_relaxed); }
    // Fresh: last scrape succeeded and is at most `staleness` old.
    bool fresh(Clock::time_point now, std::chrono::milliseconds staleness) const;

    // --- infergate's own view (written by workers) ---
    // Requests infergate has sent to this endpoint and not yet finished.
    std::atomic<int64_t> in_flight{0};
    // Set when a connection is refused; cleared when it answers again
    // (a successful connect or scrape).
    std::atomic<bool> down{false};
    // The total score this endpoint got in the last decision that scored
    // it, for /debug/endpoints. NaN when never scored.
    std::atomic<double> last_score;
    // Each scorer's unweighted score in that decision, by the scorer's
    // position in the profile (the first kMaxDebugScores scorers).
    static constexpr size_t kMaxDebugScores = 8;
    std::array<std::atomic<double>, kMaxDebugScores> last_scores;

private:
    std::string pool_;
    std::string id_;
    std::string token_;
    uint32_t uid_;
    config::Endpoint config_;
    std::atomic<double> waiting_{0}, running_{0}, kv_usage_{0};
    std::atomic<int64_t> scraped_at_ns_{0};
    std::atomic<bool> last_scrape_ok_{false};
};

}  // namespace infergate::picker
