// Running one scheduling profile. Reference: llm-d-router ebab687927f5,
// pkg/epp/scheduling/scheduler_profile.go (SchedulerProfile.Run:
// filters, then weighted scorers, then the picker).
#include "picker/scheduler_impl.hpp"

#include <cmath>

namespace infergate::picker {

namespace {

// The reference's enforceScoreRange, plus NaN -> 0 so that one broken
// score cannot poison a total.
double clamp_score(double s) {
    if (!(s > 0)) return 0;  // also NaN
    return s > 1 ? 1 : s;
}

}  // namespace

EndpointState* Scheduler::run(const SchedulingRequest& req, PickScratch& scratch) const {
    auto& cands = scratch.candidates;
    size_t n = cands.size();
    for (const Filter* f : filters_) {
        n = f->filter(req, std::span<EndpointState*>(cands.data(), n));
        if (n == 0) break;  // as the reference: stop at the first empty result
    }
    cands.resize(n);  // shrinking never allocates
    if (n == 0) return nullptr;

    scratch.totals.assign(n, 0.0);
    scratch.scores.resize(n);
    const std::span<EndpointState* const> view(cands.data(), n);
    const std::span<double> scores(scratch.scores.data(), n);
    for (const WeightedScorer& ws : scorers_) {
        ws.scorer->score(req, view, scores);
        for (size_t i = 0; i < n; ++i) scratch.totals[i] += clamp_score(scores[i]) * ws.weight;
    }
    for (size_t i = 0; i < n; ++i) cands[i]->last_score.store(scratch.totals[i], std::memory_order_relaxed);

    const size_t chosen = picker_->pick(view, std::span<const double>(scratch.totals.data(), n), scratch.rng);
    return cands[chosen < n ? chosen : 0];
}

}  // namespace infergate::picker
