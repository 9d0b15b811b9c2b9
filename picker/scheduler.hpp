// The picker's public API: choose one endpoint of a pool for a request.
//
// A Scheduler is built once per pool at config load from the pool's
// EndpointPickerConfig section (build_scheduler validates every plugin
// and parameter, reporting errors with file:line:col) and is immutable
// afterwards: pick() is const and safe to call from every worker at once.
// Per-call scratch space and the random generator belong to the caller
// (one PickScratch per worker), so a pick allocates nothing in the
// steady state.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/loader.hpp"
#include "picker/endpoint.hpp"

namespace infergate::picker {

// What the picker knows of a request.
struct SchedulingRequest {
    std::string_view request_id;
    std::string_view model;  // as sent upstream: after model_rewrite and model_rewrites
    std::string_view path;
};

// Per-worker scratch space; reused across picks.
struct PickScratch {
    std::vector<EndpointState*> candidates;
    std::vector<double> scores;
    std::vector<double> totals;
    std::minstd_rand rng{std::random_device{}()};
};

struct PickResult {
    enum class Status {
        ok,
        no_healthy_endpoint,  // every endpoint is down (or the pool is empty)
        no_fresh_metrics,     // fail-close pool and no endpoint has fresh metrics
    };
    Status status = Status::no_healthy_endpoint;
    EndpointState* endpoint = nullptr;  // set when status == ok
    // Why this endpoint: a static string such as "scored", "fail-open".
    std::string_view reason;
};

class Scheduler;  // opaque: filters, weighted scorers and a picker

struct BuildResult {
    std::shared_ptr<const Scheduler> scheduler;  // null on errors
    std::vector<config::ConfigError> errors;
};

// Validates and builds a pool's scheduler. With `cfg.present == false`
// the reference's default profile is used.
BuildResult build_scheduler(const config::SchedulerConfig& cfg);

// The type names build_scheduler accepts, sorted.
std::vector<std::string> registered_plugin_types();

// One pool's picking policy over its live endpoints.
//
// Order of decisions: endpoints marked down are skipped; among the rest,
// those with fresh metrics (last scrape good and at most `staleness` old)
// go through the scheduler's profile. With none fresh, fail_open picks
// the endpoint with the fewest in-flight requests (random among ties) and
// fail_close returns no_fresh_metrics. `exclude` (may be null) is skipped
// too: the proxy uses it to retry on another endpoint.
class PoolPicker {
public:
    PoolPicker(std::string pool, std::vector<std::shared_ptr<EndpointState>> endpoints,
               std::shared_ptr<const Scheduler> scheduler,
               std::chrono::milliseconds staleness, config::FailureMode mode);

    PickResult pick(const SchedulingRequest& req, Clock::time_point now,
                    const EndpointState* exclude, PickScratch& scratch) const;

    const std::string& pool() const { return pool_; }
    std::span<const std::shared_ptr<EndpointState>> endpoints() const { return endpoints_; }

private:
    std::string pool_;
    std::vector<std::shared_ptr<EndpointState>> endpoints_;
    std::shared_ptr<const Scheduler> scheduler_;
    std::chrono::milliseconds staleness_;
    config::FailureMode mode_;
};

}  // namespace infergate::picker
