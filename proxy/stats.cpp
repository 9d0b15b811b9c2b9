#include "proxy/stats.hpp"

#include <algorithm>

namespace infergate::proxy {

void LatencyHistogram::observe(double seconds) {
    auto it = std::lower_bound(kBounds.begin(), kBounds.end(), seconds);
    size_t i = static_cast<size_t>(it - kBounds.begin());
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    if (seconds > 0)
        sum_ns_.fetch_add(static_cast<uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

void LatencyHistogram::read(std::array<uint64_t, kBounds.size() + 1>& buckets, uint64_t& count,
                            double& sum) const {
    for (size_t i = 0; i < buckets.size(); ++i)
        buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    count = count_.load(std::memory_order_relaxed);
    sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
}

void WorkerStats::count_request(RequestKey key) {
    std::lock_guard lk(mu_);
    ++requests_[std::move(key)];
}

void WorkerStats::count_upstream_error(const std::string& endpoint, const char* kind) {
    std::lock_guard lk(mu_);
    ++upstream_errors_[{endpoint, kind}];
}

void WorkerStats::count_downstream_error(const char* kind) {
    std::lock_guard lk(mu_);
    ++downstream_errors_[kind];
}

std::map<RequestKey, uint64_t> WorkerStats::requests() const {
    std::lock_guard lk(mu_);
    return requests_;
}

std::map<std::pair<std::string, std::string>, uint64_t> WorkerStats::upstream_errors() const {
    std::lock_guard lk(mu_);
    return upstream_errors_;
}

std::map<std::string, uint64_t> WorkerStats::downstream_errors() const {
    std::lock_guard lk(mu_);
    return downstream_errors_;
}

}  // namespace infergate::proxy
