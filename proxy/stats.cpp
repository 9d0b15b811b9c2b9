#include "proxy/stats.hpp"

#include <algorithm>

#include "proxy/model_labels.hpp"

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

std::string_view gie_error_name(GieError e) {
    switch (e) {
        case GieError::BadRequest: return "BadRequest";
        case GieError::NotFound: return "NotFound";
        case GieError::ResourceExhausted: return "ResourceExhausted";
        case GieError::Internal: return "Internal";
        case GieError::ServiceUnavailable: return "ServiceUnavailable";
        case GieError::ModelServerError: return "ModelServerError";
        case GieError::Unknown:
        case GieError::count: break;
    }
    return "Unknown";
}

GieSeries& WorkerStats::gie(const ModelLabels& labels, uint64_t generation, uint32_t model,
                            uint32_t target, int priority) {
    GieSeries** slot = nullptr;
    const uint32_t prio = labels.priority_index(priority);
    if (generation > gie_cache_gen_ || gie_cache_gen_ == UINT64_MAX) {
        // A new snapshot: its label indices start a new cache.
        gie_cache_gen_ = generation;
        gie_cache_.clear();
    }
    if (generation == gie_cache_gen_ && prio != ModelLabels::kNoPriority) {
        const uint64_t key = (uint64_t(model) * labels.size() + target) * labels.priority_count() + prio;
        slot = &gie_cache_[key];
        if (*slot) return **slot;
    }
    // The first request of the series in this snapshot, or an older
    // snapshot's request (across a reload): the slow path.
    ++gie_slow_lookups_;
    std::lock_guard lk(mu_);
    auto [it, fresh] = gie_.try_emplace(GieKey{labels.name(model), labels.name(target), priority});
    if (fresh) it->second = std::make_unique<GieSeries>();
    if (slot) *slot = it->second.get();
    return *it->second;
}

std::vector<std::pair<GieKey, const GieSeries*>> WorkerStats::gie_series() const {
    std::lock_guard lk(mu_);
    std::vector<std::pair<GieKey, const GieSeries*>> out;
    out.reserve(gie_.size());
    for (const auto& [k, v] : gie_) out.emplace_back(k, v.get());
    return out;
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
