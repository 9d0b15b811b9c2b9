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

// A producer may report candidates without room for the request, or
// otherwise ruled out (PrefixMatchInfo::full, burst-aware-prefix-producer:
// no KV room, or a burst's prefill queued there). While any candidate
// has room, those lose to every candidate that has: their total becomes
// -1, below any weighted sum of scores in [0, 1] (pickers never draw a
// total <= 0 while a positive one exists, and max-score takes the
// highest). With every candidate full the scores decide as usual.
void Scheduler::demote_full(PickScratch& scratch, size_t n) const {
    for (size_t p = 0; p < producers_.size(); ++p) {
        const PrefixMatchInfo& info = scratch.prefix[p];
        if (!info.produced || info.full.size() < n) continue;
        bool any_room = false;
        for (size_t i = 0; i < n && !any_room; ++i) any_room = !info.full[i];
        if (!any_room) continue;
        for (size_t i = 0; i < n; ++i)
            if (info.full[i]) scratch.totals[i] = -1.0;
    }
}

EndpointState* Scheduler::run(const SchedulingRequest& req, PickScratch& scratch) const {
    auto& cands = scratch.candidates;
    size_t n = cands.size();
    for (const Filter* f : filters_) {
        n = f->filter(req, std::span<EndpointState*>(cands.data(), n));
        if (n == 0) break;  // as the reference: stop at the first empty result
    }
    cands.resize(n);  // shrinking never allocates
    if (n == 0) return nullptr;

    const std::span<EndpointState* const> view(cands.data(), n);
    if (scratch.prefix.size() < producers_.size()) scratch.prefix.resize(producers_.size());
    for (size_t p = 0; p < producers_.size(); ++p) {
        scratch.prefix[p].produced = false;
        producers_[p]->produce(req, view, scratch.prefix[p]);
    }

    scratch.totals.assign(n, 0.0);
    scratch.scores.resize(n);
    const std::span<double> scores(scratch.scores.data(), n);
    for (size_t k = 0; k < scorers_.size(); ++k) {
        const WeightedScorer& ws = scorers_[k];
        ws.scorer->score_with(req, view, scores, scratch);
        for (size_t i = 0; i < n; ++i) {
            const double s = clamp_score(scores[i]);
            scratch.totals[i] += s * ws.weight;
            if (k < EndpointState::kMaxDebugScores)
                cands[i]->last_scores[k].store(s, std::memory_order_relaxed);
        }
    }
    demote_full(scratch, n);
    for (size_t i = 0; i < n; ++i) cands[i]->last_score.store(scratch.totals[i], std::memory_order_relaxed);

    const size_t chosen = picker_->pick(view, std::span<const double>(scratch.totals.data(), n), scratch.rng);
    EndpointState* ep = cands[chosen < n ? chosen : 0];
    for (size_t p = 0; p < producers_.size(); ++p) {
        scratch.prefix[p].chosen = chosen < n ? chosen : 0;
        producers_[p]->pre_request(req, *ep, scratch.prefix[p]);
    }
    for (const Scorer* s : pre_request_scorers_) s->pre_request(req, *ep, scratch);
    return ep;
}

std::span<const std::string> session_headers(const Scheduler& s) { return s.echo_headers(); }

std::vector<PrefixIndexStats> prefix_index_stats(const Scheduler& s) {
    std::vector<PrefixIndexStats> out;
    for (const DataProducer* p : s.producers()) {
        PrefixIndexStats st;
        if (p->index_stats(st)) out.push_back(std::move(st));
    }
    return out;
}

std::vector<std::string> scorer_names(const Scheduler& s) {
    std::vector<std::string> out;
    for (const auto& ws : s.scorers()) out.push_back(ws.scorer->name());
    return out;
}

}  // namespace infergate::picker
