// The scorers implemented so far. Each follows the reference file named in
// builtin_plugins.hpp; none allocates, all read endpoint state relaxed.
#include <algorithm>

#include "picker/builtin_plugins.hpp"

namespace infergate::picker {

namespace {

// (max - v) / (max - min) over the candidates, 1 for all when every value
// is the same: the formula queue-scorer and running-requests-size-scorer
// share. Each endpoint is read once: the scraper may publish between reads.
void min_max_scores(std::span<EndpointState* const> candidates, std::span<double> out,
                    double (*value)(const EndpointState&)) {
    double lo = 0, hi = 0;
    for (size_t i = 0; i < candidates.size(); ++i) {
        const double v = value(*candidates[i]);
        out[i] = v;
        lo = i == 0 ? v : std::min(lo, v);
        hi = i == 0 ? v : std::max(hi, v);
    }
    for (size_t i = 0; i < candidates.size(); ++i)
        out[i] = hi == lo ? 1.0 : (hi - out[i]) / (hi - lo);
}

}  // namespace

// Reference: scorer/queuedepth/queue.go (QueueScorer.Score).
void QueueScorer::score(const SchedulingRequest&, std::span<EndpointState* const> candidates,
                        std::span<double> out) const {
    min_max_scores(candidates, out, [](const EndpointState& e) { return e.waiting(); });
}

// Reference: scorer/loadaware/load_aware.go (LoadAware.Score).
void LoadAwareScorer::score(const SchedulingRequest&, std::span<EndpointState* const> candidates,
                            std::span<double> out) const {
    for (size_t i = 0; i < candidates.size(); ++i) {
        const double q = candidates[i]->waiting();
        out[i] = q <= 0 ? 0.5 : 0.5 * (1.0 - std::min(q, threshold_) / threshold_);
    }
}

// Reference: scorer/runningrequests/runningrequest.go (Score).
void RunningRequestsSizeScorer::score(const SchedulingRequest&,
                                      std::span<EndpointState* const> candidates,
                                      std::span<double> out) const {
    min_max_scores(candidates, out, [](const EndpointState& e) { return e.running(); });
}

// Reference: scorer/kvcacheutilization/kvcache_utilization.go.
void KVCacheUtilizationScorer::score(const SchedulingRequest&,
                                     std::span<EndpointState* const> candidates,
                                     std::span<double> out) const {
    for (size_t i = 0; i < candidates.size(); ++i) out[i] = 1.0 - candidates[i]->kv_usage();
}

// Reference: scorer/activerequest/active_request.go (ActiveRequest.Score).
void ActiveRequest::score(const SchedulingRequest&, std::span<EndpointState* const> candidates,
                          std::span<double> out) const {
    int64_t max_count = 0;
    for (size_t i = 0; i < candidates.size(); ++i) {
        // A transiently negative count (a finish racing its start) is idle.
        const int64_t c = std::max<int64_t>(0, candidates[i]->in_flight.load(std::memory_order_relaxed));
        out[i] = static_cast<double>(c);
        max_count = std::max(max_count, c);
    }
    for (size_t i = 0; i < candidates.size(); ++i) {
        const double c = out[i];
        // c > idle_threshold_ >= 0 implies max_count >= c >= 1: no division by 0.
        out[i] = c <= static_cast<double>(idle_threshold_)
                     ? 1.0
                     : (static_cast<double>(max_count) - c) / static_cast<double>(max_count) * max_busy_score_;
    }
}

std::unique_ptr<Plugin> make_queue_scorer(const config::PluginSpec& spec, ParamReader&) {
    return std::make_unique<QueueScorer>(plugin_name(spec));
}

std::unique_ptr<Plugin> make_kv_cache_utilization_scorer(const config::PluginSpec& spec, ParamReader&) {
    return std::make_unique<KVCacheUtilizationScorer>(plugin_name(spec));
}

// The reference logs and ignores a negative idleThreshold or a maxBusyScore
// outside [0, 1]; we reject them at load, like every other bad parameter.
std::unique_ptr<Plugin> make_active_request_scorer(const config::PluginSpec& spec, ParamReader& params) {
    const int64_t idle = params.integer("idleThreshold", 0, 0, INT64_MAX);
    const double max_busy = params.number("maxBusyScore", 1.0, 0.0, 1.0);
    (void)params.string("requestTimeout", "");            // deprecated in the reference, ignored
    (void)params.string("inFlightLoadProducerName", "");  // no producer plugins in infergate
    if (!params.ok()) return nullptr;
    return std::make_unique<ActiveRequest>(plugin_name(spec), idle, max_busy);
}

// The reference falls back to 128 for a threshold <= 0; we reject it.
std::unique_ptr<Plugin> make_load_aware_scorer(const config::PluginSpec& spec, ParamReader& params) {
    const int64_t threshold = params.integer("threshold", 128, 1, INT32_MAX);
    if (!params.ok()) return nullptr;
    return std::make_unique<LoadAwareScorer>(plugin_name(spec), static_cast<double>(threshold));
}

std::unique_ptr<Plugin> make_running_requests_size_scorer(const config::PluginSpec& spec, ParamReader&) {
    return std::make_unique<RunningRequestsSizeScorer>(plugin_name(spec));
}

}  // namespace infergate::picker
