// utilization-detector and utilization-filter (see utilization.hpp for the
// contracts and the reference files followed).
#include "picker/utilization.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace infergate::picker {

// --- utilization-detector ----------------------------------------------------

UtilizationDetector::UtilizationDetector(std::string name, Params p)
    : Filter(std::string(type_name), std::move(name)),
      p_(p),
      q_limit_(static_cast<double>(p.queue_depth_threshold) * (1.0 + p.headroom)),
      // The reference's README caps this at 1.0 but detector.go does not;
      // the code is what runs, so no cap here either (usage never exceeds
      // 1, so a limit above 1 keeps every endpoint on KV grounds).
      kv_limit_(p.kv_cache_util_threshold * (1.0 + p.headroom)) {}

// Reference: detector.go, `podMetrics == nil || time.Since(UpdateTime) >
// MetricsStalenessThreshold`: only the age of the last good update counts,
// so there an endpoint whose scrapes start failing keeps its last numbers
// until they are older than the threshold. Deviation: infergate also treats
// an endpoint whose last scrape failed as stale at once (its kept numbers
// are the previous scrape's, from a server that may be restarting or
// overloaded), the rule PoolPicker uses for fresh metrics too, so that
// admission and picking agree on which endpoints they can judge.
bool UtilizationDetector::fresh(const EndpointState& ep, Clock::time_point now) const {
    if (!ep.last_scrape_ok()) return false;
    const Clock::time_point at = ep.scraped_at();
    if (at.time_since_epoch().count() == 0) return false;
    return now - at <= p_.metrics_staleness_threshold;
}

double UtilizationDetector::endpoint_score(const EndpointState& ep, Clock::time_point now) const {
    if (!fresh(ep, now)) return 1.0;
    const double q = ep.waiting() / static_cast<double>(p_.queue_depth_threshold);
    const double kv = ep.kv_usage() / p_.kv_cache_util_threshold;
    return std::max(q, kv);
}

// Reference: detector.go Saturation.
double UtilizationDetector::saturation(std::span<const std::shared_ptr<EndpointState>> endpoints,
                                       Clock::time_point now) const {
    double total = 0;
    size_t n = 0;
    for (const auto& sp : endpoints) {
        const EndpointState& ep = *sp;
        if (ep.down.load(std::memory_order_relaxed)) continue;
        total += endpoint_score(ep, now);
        ++n;
    }
    return n == 0 ? 1.0 : total / static_cast<double>(n);
}

size_t UtilizationDetector::filter(const SchedulingRequest&, std::span<EndpointState*> candidates) const {
    return filter_at(candidates, Clock::now());
}

// Reference: detector.go Filter. Compacts in place; when nothing passes the
// span is left untouched (the kept ones are only moved after a first pass
// shows at least one passes, so "keep all" keeps the original order).
size_t UtilizationDetector::filter_at(std::span<EndpointState*> candidates, Clock::time_point now) const {
    auto passes = [&](const EndpointState& ep) {
        if (!fresh(ep, now)) return false;
        return ep.waiting() < q_limit_ && ep.kv_usage() < kv_limit_;
    };
    size_t first = 0;
    while (first < candidates.size() && !passes(*candidates[first])) ++first;
    if (first == candidates.size()) return candidates.size();  // fail-open: keep all
    size_t kept = 0;
    candidates[kept++] = candidates[first];
    for (size_t i = first + 1; i < candidates.size(); ++i)
        if (passes(*candidates[i])) candidates[kept++] = candidates[i];
    return kept;
}

namespace {

constexpr double kMaxDouble = std::numeric_limits<double>::max();

// A finite number under `key` (fallback when absent or malformed) that must
// also satisfy `in_range`; otherwise "<label> of plugin 'N' must be
// <range>, got X" at the value. The reference states its ranges this way.
double ranged(ParamReader& params, std::string_view key, std::string_view label, const std::string& plugin,
              double fallback, bool (*in_range)(double), std::string_view range) {
    const config::Node* n = params.raw(key);
    // NaN back means absent, or malformed and already reported (a written
    // NaN is refused as not finite).
    const double v = params.number(key, std::numeric_limits<double>::quiet_NaN(), -kMaxDouble, kMaxDouble);
    if (std::isnan(v) || !n) return fallback;
    if (!in_range(v)) {
        params.error(n->mark, fmt::format("parameter '{}' of plugin '{}' must be {}, got {}", label, plugin, range,
                                          n->scalar));
        return fallback;
    }
    return v;
}

}  // namespace

std::unique_ptr<UtilizationDetector> make_default_utilization_detector() {
    return std::make_unique<UtilizationDetector>(std::string(UtilizationDetector::type_name),
                                                 UtilizationDetector::Params{});
}

// Reference: config.go buildConfig/validateConfig (defaults, then every
// check reported).
std::unique_ptr<Plugin> make_utilization_detector(const config::PluginSpec& spec, ParamReader& params) {
    UtilizationDetector::Params p;
    p.queue_depth_threshold = params.integer("queueDepthThreshold", p.queue_depth_threshold, 1,
                                             std::numeric_limits<int32_t>::max());
    const std::string name = plugin_name(spec);
    p.kv_cache_util_threshold = ranged(params, "kvCacheUtilThreshold", "kvCacheUtilThreshold", name,
                                       p.kv_cache_util_threshold, [](double v) { return v > 0 && v <= 1; },
                                       "in (0.0, 1.0]");
    // A bare number is read as nanoseconds, as Go's time.Duration in JSON.
    p.metrics_staleness_threshold =
        params.duration("metricsStalenessThreshold", p.metrics_staleness_threshold, std::chrono::nanoseconds(1));
    p.headroom = ranged(params, "headroom", "headroom", name, p.headroom, [](double v) { return v >= 0; },
                        "a non-negative value");
    if (!params.ok()) return nullptr;
    return std::make_unique<UtilizationDetector>(plugin_name(spec), p);
}

// --- utilization-filter ------------------------------------------------------

bool UtilizationFilter::satisfies_all(const EndpointState& ep) const {
    for (const Condition& c : conditions_) {
        double v = 0;
        switch (c.metric) {
            case Metric::active_requests:
                v = static_cast<double>(ep.in_flight.load(std::memory_order_relaxed));
                break;
            case Metric::running_requests: v = ep.running(); break;
            case Metric::waiting_queue: v = ep.waiting(); break;
            case Metric::kv_cache_utilization: v = ep.kv_usage(); break;
        }
        if (v > c.max_value) return false;
    }
    return true;
}

// Reference: filter/utilization/filter.go Filter. Same compaction as the
// detector's filter: nothing moves until one endpoint is known to pass.
size_t UtilizationFilter::filter(const SchedulingRequest&, std::span<EndpointState*> candidates) const {
    size_t first = 0;
    while (first < candidates.size() && !satisfies_all(*candidates[first])) ++first;
    if (first == candidates.size()) return fallback_on_empty_ ? candidates.size() : 0;
    size_t kept = 0;
    candidates[kept++] = candidates[first];
    for (size_t i = first + 1; i < candidates.size(); ++i)
        if (satisfies_all(*candidates[i])) candidates[kept++] = candidates[i];
    return kept;
}

namespace {

struct MetricName {
    std::string_view name;
    UtilizationFilter::Metric metric;
};
constexpr MetricName kMetrics[] = {
    {"active-requests", UtilizationFilter::Metric::active_requests},
    {"running-requests", UtilizationFilter::Metric::running_requests},
    {"waiting-queue", UtilizationFilter::Metric::waiting_queue},
    {"kv-cache-utilization", UtilizationFilter::Metric::kv_cache_utilization},
};

}  // namespace

// Reference: filter.go NewUtilizationFilter's checks, each reported at the
// offending value.
std::unique_ptr<Plugin> make_utilization_filter(const config::PluginSpec& spec, ParamReader& params) {
    const std::string name = plugin_name(spec);
    std::vector<UtilizationFilter::Condition> conditions;
    const config::Node* list = params.raw("conditions");
    if (!list) {
        params.error(params.mark(), fmt::format("plugin '{}' (utilization-filter) needs parameter 'conditions' "
                                                "with at least one condition", name));
    } else if (list->kind != config::Node::Kind::sequence || list->items.empty()) {
        params.error(list->mark, fmt::format("parameter 'conditions' of plugin '{}' must be a list of at least "
                                             "one {{metric, maxValue}}", name));
    } else {
        for (size_t i = 0; i < list->items.size(); ++i) {
            ParamReader item = params.nested(list->items[i], fmt::format("conditions[{}]", i));
            const config::Node* metric_node = item.raw("metric");
            const std::string metric = item.string("metric", "");
            const config::Node* max_node = item.raw("maxValue");
            const double max_value = ranged(item, "maxValue", fmt::format("conditions[{}].maxValue", i), name, -1.0,
                                            [](double v) { return v >= 0; }, "non-negative");
            item.finish();
            if (list->items[i].kind != config::Node::Kind::map) continue;  // reported by nested()
            const MetricName* found = nullptr;
            for (const MetricName& m : kMetrics)
                if (m.name == metric) found = &m;
            if (!metric_node) {
                item.error(list->items[i].mark, fmt::format("conditions[{}] of plugin '{}' needs a 'metric'", i, name));
            } else if (!found && metric_node->kind == config::Node::Kind::scalar) {
                std::vector<std::string_view> names;
                for (const MetricName& m : kMetrics) names.push_back(m.name);
                std::string msg = fmt::format("conditions[{}].metric of plugin '{}' must be one of 'active-requests', "
                                              "'running-requests', 'waiting-queue', 'kv-cache-utilization', got '{}'",
                                              i, name, metric);
                if (auto near = closest_name(metric, names); !near.empty())
                    msg += fmt::format(" (did you mean '{}'?)", near);
                item.error(metric_node->mark, std::move(msg));
            }
            if (!max_node) {
                item.error(list->items[i].mark, fmt::format("conditions[{}] of plugin '{}' needs a 'maxValue'", i, name));
            } else if (found && found->metric == UtilizationFilter::Metric::kv_cache_utilization && max_value > 1.0) {
                item.error(max_node->mark, fmt::format("conditions[{}].maxValue of plugin '{}' is a fraction for "
                                                       "kv-cache-utilization and must be at most 1, got {}",
                                                       i, name, max_node->scalar));
            }
            if (found && max_node && max_value >= 0) conditions.push_back({found->metric, max_value});
        }
    }
    const bool fallback = params.boolean("fallbackOnEmpty", false);
    (void)params.string("inFlightLoadProducerName", "");  // see utilization.hpp
    if (!params.ok()) return nullptr;
    return std::make_unique<UtilizationFilter>(name, std::move(conditions), fallback);
}

}  // namespace infergate::picker
