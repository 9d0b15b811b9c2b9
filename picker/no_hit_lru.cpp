// no-hit-lru-scorer. Reference: llm-d-router ebab687927f5,
// pkg/epp/framework/plugins/scheduling/scorer/nohitlru/no_hit_lru.go and its
// README. A request is cold when no candidate holds any of its prefix
// blocks (or no producer ran); cold requests are steered to the endpoints
// that least recently served a cold request, so the new KV blocks they
// create spread evenly. Warm requests get 0.5 everywhere, leaving the
// choice to the prefix scorer.
#include <algorithm>
#include <mutex>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>
#include <fmt/format.h>

#include "picker/builtin_plugins.hpp"

namespace infergate::picker {

namespace {

bool is_cold(size_t slot, const PickScratch& scratch, size_t n) {
    if (slot >= scratch.prefix.size()) return true;
    const PrefixMatchInfo& info = scratch.prefix[slot];
    if (!info.produced) return true;
    for (size_t i = 0; i < n && i < info.matched.size(); ++i)
        if (info.matched[i] > 0) return false;
    return true;
}

}  // namespace

void NoHitLruScorer::score(const SchedulingRequest&, std::span<EndpointState* const> candidates,
                           std::span<double> out) const {
    // Without the producer's data every request is cold (the reference:
    // "If no prefix cache state is available, all requests are treated as
    // cold"); score_with handles that case the same way.
    score_cold(candidates, out);
}

void NoHitLruScorer::score_with(const SchedulingRequest&, std::span<EndpointState* const> candidates,
                                std::span<double> out, const PickScratch& scratch) const {
    if (!is_cold(slot_, scratch, candidates.size())) {
        std::fill(out.begin(), out.begin() + ptrdiff_t(candidates.size()), 0.5);  // scoreNeutral
        return;
    }
    score_cold(candidates, out);
}

// scoreColdRequestByLRU: never-used endpoints first (1, then lower, in
// candidate order), then the used ones by LRU position, oldest highest:
// score = 1 - rank / (n - 1), rank = never-used count + position.
void NoHitLruScorer::score_cold(std::span<EndpointState* const> candidates, std::span<double> out) const {
    const size_t n = candidates.size();
    if (n == 0) return;
    if (n == 1) {
        out[0] = 1.0;
        return;
    }
    // The lock covers a copy of the order only (at most lruSize uids, in
    // practice the pool's endpoints); the positions are found outside it.
    // Per worker, reused: no allocation once grown.
    thread_local std::vector<uint32_t> order;
    thread_local boost::unordered_flat_map<uint32_t, uint32_t> position;  // uid -> LRU position
    {
        std::lock_guard lock(mu_);
        order.assign(order_.begin(), order_.end());
    }
    position.clear();
    for (size_t i = 0; i < order.size(); ++i) position.emplace(order[i], uint32_t(i));
    const double denom = double(n - 1);
    size_t never_used = 0;
    for (size_t i = 0; i < n; ++i)
        if (!position.contains(candidates[i]->uid())) out[i] = 1.0 - double(never_used++) / denom;
    for (size_t i = 0; i < n; ++i) {
        const auto it = position.find(candidates[i]->uid());
        if (it == position.end()) continue;
        const double rank = double(never_used + it->second);
        out[i] = std::max(0.0, 1.0 - rank / denom);
    }
}

void NoHitLruScorer::pre_request(const SchedulingRequest&, EndpointState& chosen, const PickScratch& scratch) const {
    if (!is_cold(slot_, scratch, scratch.candidates.size())) return;
    // moveTargetPodToFront: the chosen endpoint becomes the most recent.
    // Under the lock: a search and a move of at most lruSize uids, once
    // per cold request (warm requests never lock).
    std::lock_guard lock(mu_);
    const auto it = std::find(order_.begin(), order_.end(), chosen.uid());
    if (it != order_.end()) order_.erase(it);
    order_.push_back(chosen.uid());
    if (order_.size() > lru_size_) order_.erase(order_.begin());
}

std::vector<uint32_t> NoHitLruScorer::lru_order() const {
    std::lock_guard lock(mu_);
    return order_;
}

std::unique_ptr<Plugin> make_no_hit_lru_scorer(const config::PluginSpec& spec, ParamReader& params) {
    // prefixPluginType / prefixPluginName are deprecated and were never
    // used by the reference: accepted and ignored.
    params.string("prefixPluginType", "");
    params.string("prefixPluginName", "");
    // The reference falls back to 1024 for lruSize <= 0.
    int64_t lru_size = params.integer("lruSize", 1024, INT32_MIN, INT32_MAX);
    if (lru_size <= 0) lru_size = 1024;
    std::string producer = params.string("prefixMatchInfoProducerName", "");
    if (!params.ok()) return nullptr;
    if (producer.empty()) producer = std::string(ApproxPrefixCacheProducer::type_name);
    return std::make_unique<NoHitLruScorer>(plugin_name(spec), std::move(producer), size_t(lru_size));
}

}  // namespace infergate::picker
