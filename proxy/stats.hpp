// Per-worker traffic statistics, merged into Prometheus families when the
// admin listener is scraped.
//
// Each worker writes only its own WorkerStats: histogram buckets and plain
// counters are relaxed atomics (no lock on the request path, no cache line
// shared with another worker); the labelled request counters sit in a map
// behind a mutex that only this worker and the (rare) scrape take.
// prometheus-cpp's own Histogram takes a mutex per Observe, hence ours.
//
// The GIE-compatible inference_objective_* series (per model_name,
// target_model_name and priority) are GieSeries of atomics, created once
// per worker and label set and never freed; the worker finds a request's
// series through a cache indexed by the runtime snapshot's ModelLabels
// indices (model, target and priority), so the request path neither
// allocates nor locks once its series has been seen. The scrape lists them
// under the mutex and reads the atomics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "tls/failure.hpp"

namespace infergate::proxy {

class ModelLabels;

// Fixed-bucket histogram of relaxed atomics; the sum is kept in units of
// 1/Scale (nanoseconds for seconds, whole tokens for token counts).
template <const auto& Bounds, uint64_t Scale>
class FixedHistogram {
public:
    static constexpr auto& kBounds = Bounds;
    static constexpr size_t kBuckets = Bounds.size() + 1;  // last is +Inf

    void observe(double v) {
        size_t i = 0;
        while (i < Bounds.size() && v > Bounds[i]) ++i;
        buckets_[i].fetch_add(1, std::memory_order_relaxed);
        count_.fetch_add(1, std::memory_order_relaxed);
        if (v > 0) sum_.fetch_add(static_cast<uint64_t>(v * Scale), std::memory_order_relaxed);
    }
    // Adds this histogram's (non-cumulative) buckets, count and sum.
    void add_to(std::array<uint64_t, kBuckets>& buckets, uint64_t& count, double& sum) const {
        for (size_t i = 0; i < kBuckets; ++i) buckets[i] += buckets_[i].load(std::memory_order_relaxed);
        count += count_.load(std::memory_order_relaxed);
        sum += static_cast<double>(sum_.load(std::memory_order_relaxed)) / Scale;
    }

private:
    std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
    std::atomic<uint64_t> count_{0};
    std::atomic<uint64_t> sum_{0};
};

// Bucket bounds of the reference's metrics (llm-d-router
// pkg/epp/metrics/metrics.go: generalLatencyBuckets, inputTokens,
// outputTokens, normalizedTimePerOutputToken, schedulerE2ELatency).
namespace gie_buckets {
inline constexpr std::array<double, 35> kLatency = {
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10,
    15, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600};
inline constexpr std::array<double, 19> kInputTokens = {
    1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32778, 65536,
    131072, 262144, 524288, 1048576};
inline constexpr std::array<double, 12> kOutputTokens = {1,   8,    16,   32,   64,   128,
                                                         256, 512, 1024, 2048, 4096, 8192};
inline constexpr std::array<double, 13> kNtpot = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
                                                  0.2,   0.5,   1.0,   2.0,  5.0,  10.0};
inline constexpr std::array<double, 10> kSchedulerE2E = {0.0001, 0.0002, 0.0005, 0.001, 0.002,
                                                         0.005,  0.01,   0.02,   0.05,  0.1};
}  // namespace gie_buckets

using GieLatencyHistogram = FixedHistogram<gie_buckets::kLatency, 1'000'000'000>;
using GieInputTokenHistogram = FixedHistogram<gie_buckets::kInputTokens, 1>;
using GieOutputTokenHistogram = FixedHistogram<gie_buckets::kOutputTokens, 1>;
using GieNtpotHistogram = FixedHistogram<gie_buckets::kNtpot, 1'000'000'000>;
using GieSchedulerHistogram = FixedHistogram<gie_buckets::kSchedulerE2E, 1'000'000'000>;

// infergate's own added latency (infergate_request_added_latency_seconds,
// infergate_response_added_latency_seconds; README, "Admin endpoints and
// metrics"): fine
// enough to resolve tens of microseconds, which the request-path latency
// histograms (LatencyHistogram, from 0.5 ms) cannot. infergate's own, no
// reference counterpart.
inline constexpr std::array<double, 14> kAddedLatencyBounds = {
    0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002,
    0.005,    0.01,    0.025,  0.05,    0.1,    0.25,  1.0};
using AddedLatencyHistogram = FixedHistogram<kAddedLatencyBounds, 1'000'000'000>;

// The reference's error_code values (llm-d-router pkg/common/error/error.go)
// that infergate can produce.
enum class GieError : uint8_t {
    BadRequest, NotFound, ResourceExhausted, Internal, ServiceUnavailable, ModelServerError,
    Unknown, count
};
std::string_view gie_error_name(GieError e);

struct GieSeries {
    std::atomic<uint64_t> requests{0};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(GieError::count)> errors{};
    std::atomic<int64_t> running{0};
    GieLatencyHistogram duration;
    GieLatencyHistogram ttft;
    GieInputTokenHistogram input_tokens;
    GieOutputTokenHistogram output_tokens;
    GieNtpotHistogram ntpot;
};

struct GieKey {
    std::string model, target;
    int priority;
    auto operator<=>(const GieKey&) const = default;
};

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
    // Upstream connections established (TCP, and TLS when the pool has
    // it); with requests, tells how well keep-alive reuse works.
    std::atomic<uint64_t> upstream_connections_opened{0};
    GieSchedulerHistogram scheduler_e2e;
    // One observation per request that reached the upstream (request) and
    // per response whose first write to the client completed (response);
    // the intervals are defined where they are measured, forward.cpp.
    AddedLatencyHistogram request_added_latency;
    AddedLatencyHistogram response_added_latency;

    // The series for a request's labels (`model` and `target` are indices
    // into `labels`, the snapshot numbered `generation`; `priority` is
    // numbered by labels.priority_index). Owning worker only. Takes the
    // mutex, and allocates, only for the first request of a series in a
    // snapshot, or for a request of an older snapshot (across a reload).
    GieSeries& gie(const ModelLabels& labels, uint64_t generation, uint32_t model, uint32_t target,
                   int priority);
    // Calls of gie() that took the slow path (tests). Owning worker only.
    uint64_t gie_slow_lookups() const { return gie_slow_lookups_; }
    // Sheddable requests answered 429 because their pool was saturated.
    std::atomic<uint64_t> requests_shed{0};

    // TLS, client side: handshakes by version (0: 1.2, 1: 1.3) and
    // resumption, failures by reason; upstream: handshakes by resumption
    // and failures. Relaxed atomics, summed over workers at scrape.
    void count_tls_handshake(bool tls13, bool resumed) {
        tls_handshakes[tls13 ? 1 : 0][resumed ? 1 : 0].fetch_add(1, std::memory_order_relaxed);
    }
    void count_tls_failure(tls::Failure why) { tls_failures[static_cast<size_t>(why)].fetch_add(1, std::memory_order_relaxed); }
    void count_upstream_tls(bool resumed) { upstream_tls_handshakes[resumed ? 1 : 0].fetch_add(1, std::memory_order_relaxed); }
    void count_upstream_tls_failure(tls::Failure why) {
        upstream_tls_failures[static_cast<size_t>(why)].fetch_add(1, std::memory_order_relaxed);
    }
    std::array<std::array<std::atomic<uint64_t>, 2>, 2> tls_handshakes{};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(tls::Failure::count_)> tls_failures{};
    std::array<std::atomic<uint64_t>, 2> upstream_tls_handshakes{};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(tls::Failure::count_)> upstream_tls_failures{};

    // Copies for the scrape.
    std::map<RequestKey, uint64_t> requests() const;
    std::map<std::pair<std::string, std::string>, uint64_t> upstream_errors() const;
    std::map<std::string, uint64_t> downstream_errors() const;
    std::vector<std::pair<GieKey, const GieSeries*>> gie_series() const;

private:
    mutable std::mutex mu_;
    std::map<RequestKey, uint64_t> requests_;
    std::map<std::pair<std::string, std::string>, uint64_t> upstream_errors_;
    std::map<std::string, uint64_t> downstream_errors_;
    std::map<GieKey, std::unique_ptr<GieSeries>> gie_;  // under mu_; never erased
    // Owning worker only: series of the snapshot gie_cache_gen_ by
    // (model * labels.size() + target) * priority_count() + priority index.
    // A hash map, not a dense array: its size follows the series seen, not
    // the product of the label sets; clear() keeps its buckets.
    uint64_t gie_cache_gen_ = UINT64_MAX;
    boost::unordered_flat_map<uint64_t, GieSeries*> gie_cache_;
    uint64_t gie_slow_lookups_ = 0;
};

}  // namespace infergate::proxy
