// Saturation detection and the utilization filters (issue 6, "Admission
// and priority"), under the reference's type names, parameters and
// defaults (llm-d-router ebab687927f5):
//
//   utilization-detector
//     pkg/epp/framework/plugins/flowcontrol/saturationdetector/utilization/
//     {README.md,config.go,detector.go}
//   utilization-filter
//     pkg/epp/framework/plugins/scheduling/filter/utilization/{README.md,filter.go}
//
// Thread-safety: built once at config load, immutable afterwards; every
// method is const, reads EndpointState's relaxed atomics only, takes no
// lock and allocates nothing, so every worker may call it at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "picker/params.hpp"
#include "picker/plugin.hpp"

namespace infergate::picker {

// The reference's flowcontrol.SaturationDetector
// (pkg/epp/framework/interface/flowcontrol/plugins.go): a pool-level
// saturation signal where >= 1.0 means "saturated". A plugin implements it
// besides its plugin kind (the utilization detector is also a Filter).
//
// infergate uses it the way the reference's LegacyAdmissionController does
// (pkg/epp/requestcontrol/admission.go, rejectIfSheddableAndSaturated):
// a request with negative priority is shed when saturation() >= 1.0.
class SaturationDetector {
public:
    virtual ~SaturationDetector() = default;
    // Over the pool's endpoints at `now`. Endpoints marked down are not
    // candidates (the reference's datastore drops pods that are not ready)
    // and are skipped; with no candidate left the answer is 1.0.
    virtual double saturation(std::span<const std::shared_ptr<EndpointState>> endpoints,
                              Clock::time_point now) const = 0;
};

// utilization-detector.
//
// Saturation (the pool): the mean over the candidates of each endpoint's
// roofline score max(waiting / queueDepthThreshold, kv / kvCacheUtilThreshold);
// an endpoint with missing or stale metrics (never scraped, last good
// scrape older than metricsStalenessThreshold, or, unlike the reference,
// last scrape failed: see fresh() in utilization.cpp) scores 1.0,
// fail-closed, as the reference.
//
// Filter (listed in a profile): keeps the endpoints with fresh metrics and
// waiting < queueDepthThreshold * (1 + headroom) and
// kv < kvCacheUtilThreshold * (1 + headroom); when that would remove every
// candidate it keeps them all (the reference's fail-open fallback).
//
// Parameters (reference defaults): queueDepthThreshold int > 0 (5),
// kvCacheUtilThreshold (0, 1] (0.8), metricsStalenessThreshold duration > 0
// ("200ms"), headroom >= 0 (0).
class UtilizationDetector final : public Filter, public SaturationDetector {
public:
    static constexpr std::string_view type_name = "utilization-detector";

    struct Params {
        int64_t queue_depth_threshold = 5;
        double kv_cache_util_threshold = 0.8;
        std::chrono::nanoseconds metrics_staleness_threshold = std::chrono::milliseconds(200);
        double headroom = 0.0;
    };

    UtilizationDetector(std::string name, Params p);

    double saturation(std::span<const std::shared_ptr<EndpointState>> endpoints,
                      Clock::time_point now) const override;
    size_t filter(const SchedulingRequest& req, std::span<EndpointState*> candidates) const override;
    // The filter's decision at an explicit time (filter() reads the clock).
    size_t filter_at(std::span<EndpointState*> candidates, Clock::time_point now) const;

    // One endpoint's roofline score; 1.0 when its metrics are stale.
    double endpoint_score(const EndpointState& ep, Clock::time_point now) const;
    const Params& params() const { return p_; }

private:
    bool fresh(const EndpointState& ep, Clock::time_point now) const;

    Params p_;
    double q_limit_;   // queueDepthThreshold * (1 + headroom)
    double kv_limit_;  // kvCacheUtilThreshold * (1 + headroom)
};

// utilization-filter: keeps an endpoint only when every condition holds
// (metric <= maxValue). Metrics: active-requests (infergate's own
// in-flight count, EndpointState::in_flight: the reference reads the same
// number from its inflight-load-producer), running-requests, waiting-queue,
// kv-cache-utilization (scraped). When every endpoint is dropped and
// fallbackOnEmpty is true the candidates are kept unchanged; the default,
// as in the reference, is false (the pick then finds no endpoint).
// inFlightLoadProducerName is accepted and ignored: infergate has no
// in-flight producer plugin, the count lives on the endpoint.
class UtilizationFilter final : public Filter {
public:
    static constexpr std::string_view type_name = "utilization-filter";

    enum class Metric { active_requests, running_requests, waiting_queue, kv_cache_utilization };
    struct Condition {
        Metric metric;
        double max_value;
    };

    UtilizationFilter(std::string name, std::vector<Condition> conditions, bool fallback_on_empty)
        : Filter(std::string(type_name), std::move(name)),
          conditions_(std::move(conditions)),
          fallback_on_empty_(fallback_on_empty) {}

    size_t filter(const SchedulingRequest& req, std::span<EndpointState*> candidates) const override;
    const std::vector<Condition>& conditions() const { return conditions_; }
    bool fallback_on_empty() const { return fallback_on_empty_; }

private:
    bool satisfies_all(const EndpointState& ep) const;

    std::vector<Condition> conditions_;
    bool fallback_on_empty_;
};

// A utilization-detector with the reference's defaults, named after its
// type: the pool's detector when its config names none.
std::unique_ptr<UtilizationDetector> make_default_utilization_detector();

std::unique_ptr<Plugin> make_utilization_detector(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_utilization_filter(const config::PluginSpec& spec, ParamReader& params);

}  // namespace infergate::picker
