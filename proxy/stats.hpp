// Per-worker traffic statistics, merged into Prometheus families when the
// admin listener is scraped.
//
// Each worker writes only its own WorkerStats: histogram buckets and plain
// counters are relaxed atomics (no lock on the request path, no cache line
// shared with another worker); the labelled request counters sit in a map
// behind a mutex that only this worker and the (rare) scrape take.
// prometheus-cpp's own Histogram takes a mutex per Observe, hence ours.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace infergate::proxy {

class LatencyHistogram {
public:
    // Upper bounds in seconds, shared by every latency histogram.
    static constexpr std::array<double, 16> kBounds = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
        0.25,   0.5,   1,      2.5,   5,    10,    30,    60};

    void observe(double seconds);
    // Cumulative-free bucket counts (last is +Inf), count and sum.
    void read(std::array<uint64_t, kBounds.size() + 1>& buckets, uint64_t& count,
              double& sum) const;

private:
    std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
    std::atomic<uint64_t> count_{0};
    std::atomic<uint64_t> sum_ns_{0};
};

struct RequestKey {
    std::string route, pool, endpoint;
    int status;
    auto operator<=>(const RequestKey&) const = default;
};

class WorkerStats {
public:
    void count_request(RequestKey key);
    void count_upstream_error(const std::string& endpoint, const char* kind);
    void count_downstream_error(const char* kind);

    LatencyHistogram request_duration;
    LatencyHistogram time_to_first_byte;
    std::atomic<uint64_t> connections_accepted{0};
    std::atomic<uint64_t> connections_rejected{0};
    std::atomic<int64_t> connections_open{0};
    std::atomic<uint64_t> streams_truncated{0};
    // Sheddable requests answered 429 because their pool was saturated.
    std::atomic<uint64_t> requests_shed{0};

    // Copies for the scrape.
    std::map<RequestKey, uint64_t> requests() const;
    std::map<std::pair<std::string, std::string>, uint64_t> upstream_errors() const;
    std::map<std::string, uint64_t> downstream_errors() const;

private:
    mutable std::mutex mu_;
    std::map<RequestKey, uint64_t> requests_;
    std::map<std::pair<std::string, std::string>, uint64_t> upstream_errors_;
    std::map<std::string, uint64_t> downstream_errors_;
};

}  // namespace infergate::proxy
