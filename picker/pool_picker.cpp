// PoolPicker: the order of decisions around a pool's scheduler (see the
// contract in scheduler.hpp). Nothing here allocates once the caller's
// scratch vectors have grown to the pool's size.
#include <limits>

#include "picker/scheduler_impl.hpp"
#include "picker/utilization.hpp"

namespace infergate::picker {

PoolPicker::PoolPicker(std::string pool, std::vector<std::shared_ptr<EndpointState>> endpoints,
                       std::shared_ptr<const Scheduler> scheduler, std::chrono::milliseconds staleness,
                       config::FailureMode mode)
    : pool_(std::move(pool)),
      endpoints_(std::move(endpoints)),
      scheduler_(std::move(scheduler)),
      staleness_(staleness),
      mode_(mode) {}

namespace {

// The fewest in-flight requests among `from`'s endpoints that are neither
// down nor `exclude`; uniform among ties
// by reservoir sampling. Null when there is none.
EndpointState* least_in_flight(std::span<const std::shared_ptr<EndpointState>> from,
                               const EndpointState* exclude, std::minstd_rand& rng) {
    EndpointState* best = nullptr;
    int64_t best_count = std::numeric_limits<int64_t>::max();
    size_t ties = 0;
    for (const auto& sp : from) {
        EndpointState* ep = sp.get();
        if (ep == exclude || ep->down.load(std::memory_order_relaxed)) continue;
        const int64_t c = ep->in_flight.load(std::memory_order_relaxed);
        if (c < best_count) {
            best = ep;
            best_count = c;
            ties = 1;
        } else if (c == best_count) {
            ++ties;
            if (std::uniform_int_distribution<size_t>(0, ties - 1)(rng) == 0) best = ep;
        }
    }
    return best;
}

}  // namespace

double PoolPicker::saturation(Clock::time_point now) const {
    const SaturationDetector* d = scheduler_ ? scheduler_->saturation_detector() : nullptr;
    return d ? d->saturation(endpoints_, now) : std::numeric_limits<double>::quiet_NaN();
}

PickResult PoolPicker::pick(const SchedulingRequest& req, Clock::time_point now,
                            const EndpointState* exclude, PickScratch& scratch) const {
    using Status = PickResult::Status;
    // Admission. Reference: pkg/epp/requestcontrol/admission.go
    // rejectIfSheddableAndSaturated (IsSheddable: priority < 0).
    if (req.priority < 0 && exclude == nullptr && scheduler_) {
        const SaturationDetector* d = scheduler_->saturation_detector();
        if (d && d->saturation(endpoints_, now) >= 1.0)
            return PickResult{Status::shed, nullptr, "system saturated, sheddable request dropped"};
    }
    auto& cands = scratch.candidates;
    if (cands.capacity() < endpoints_.size()) {  // first pick on this worker, or the pool grew
        cands.reserve(endpoints_.size());
        scratch.scores.reserve(endpoints_.size());
        scratch.totals.reserve(endpoints_.size());
    }
    cands.clear();
    size_t healthy = 0;
    for (const auto& sp : endpoints_) {
        EndpointState* ep = sp.get();
        if (ep == exclude || ep->down.load(std::memory_order_relaxed)) continue;
        ++healthy;
        if (ep->fresh(now, staleness_)) cands.push_back(ep);
    }
    if (healthy == 0) return PickResult{Status::no_healthy_endpoint, nullptr, "no healthy endpoint"};

    if (cands.empty()) {
        if (mode_ == config::FailureMode::fail_close)
            return PickResult{Status::no_fresh_metrics, nullptr, "fail-close: no fresh metrics"};
        EndpointState* ep = least_in_flight(endpoints_, exclude, scratch.rng);
        return PickResult{Status::ok, ep, "fail-open: no fresh metrics"};
    }

    if (!scheduler_) {
        // build_scheduler failed and the proxy started anyway: stay useful.
        EndpointState* ep = least_in_flight(endpoints_, exclude, scratch.rng);
        return PickResult{Status::ok, ep, "no scheduler: least in-flight"};
    }
    SchedulingRequest timed = req;  // a few views and words: no allocation
    if (timed.now == Clock::time_point{}) timed.now = now;
    EndpointState* ep = scheduler_->run(timed, scratch);
    if (!ep) {
        // Filters removed every fresh endpoint (a utilization-filter
        // without fallbackOnEmpty). The reference answers "resource
        // exhausted" (429) for any failed schedule; infergate keeps 429 for
        // shedding by priority, which comes with Retry-After, and reports
        // this as no capacity (503, DESIGN.md "Errors") with its own reason.
        return PickResult{Status::no_healthy_endpoint, nullptr, "filtered: no endpoint left"};
    }
    return PickResult{Status::ok, ep, "scored"};
}

}  // namespace infergate::picker
