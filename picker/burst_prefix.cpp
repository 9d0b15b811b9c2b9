// burst-aware-prefix-producer: see builtin_plugins.hpp for the idea.
//
// Why not a batching window like the reference's burst-prefix-cache-producer
// (llm-d-router ebab687927f5, requestcontrol/dataproducer/burstprefix/):
// a window adds its length to every request's latency in a burst and still
// decides from metrics a scrape old. Deciding at once is possible because
// infergate knows, per endpoint and without waiting, (a) which prefix blocks
// it already sent there (the shared prefix index, updated at decision time)
// and (b) how many KV tokens it sent there since the last scrape and how
// many prompt tokens it sent there to prefill that the engine cannot have
// computed yet (EndpointState::unseen_kv_tokens and pending_prefill_tokens,
// one atomic word each). The two checks turn the plain scorer's
// "everything with this prefix goes to A" into "to A while A has room and
// starts this request's first token as early as anyone, then to the next
// best": a failing endpoint's match is hidden, and it loses to every
// endpoint that passes.
//
// The compute check follows the engine model of bench/sim (infergate-sim,
// bench/sim/engine.cpp and README "Continuous batching", "Step time"; vLLM
// V1's scheduler): each step first continues the running requests' prefill
// chunks, then admits waiting requests FCFS while the step's token budget
// (max_num_batched_tokens, 8192) lasts; a request's first token comes at
// the end of the step that completes its prefill; a step takes 6.47 ms +
// 19.8 us per prefill token (+ decodes, + attention). So a request waits
// for roughly every prefill token queued ahead of it on that engine plus
// its own, and comparing candidates in prefill tokens compares their first
// tokens. Blocks enter the prefix cache at the end of the step that
// computes them (Engine::end_step) and a waiting request looks the cache
// up when admitted (Engine::schedule_waiting): once the head of a burst
// has prefilled the shared prefix in its first step (its prompt fills a
// step's budget, as the bursts benchmark's 9000-token prompts do), the
// ones queued behind it on that engine prefill only their own unmatched
// tokens. That is what the prefix index's match says they cost there;
// elsewhere they cost their whole prompt. The estimate leaves out the
// attention term, which adds ~29 % to a fresh 9000-token prompt's 19.8 us
// per token and ~55 % to a 1000-token suffix over a cached 8000-token
// prefix: a holder's queue of suffixes is somewhat dearer than its token
// count says, so by the simulator's model this check spills a little late
// rather than early.
//
// Why a bucket drained by time and not a count reset at every scrape: a
// scrape shows whether a request was admitted, not whether its prefill is
// done, and a 9000-token prompt prefills over ~0.23 s, several 50 ms
// scrape intervals. Counted only since the last scrape (or the last two),
// the count forgot the burst's head while the engine was still prefilling
// its prefix, that endpoint looked idle again, and the rest of the burst
// piled up behind the head (bursts benchmark, scrapes landing mid-burst:
// spreads like 10/10/4/2/2/2/1/1 or 11/4/3/3/3/3/3/2 instead of 4 per
// replica). The bucket drains at prefillTokensPerSecond, the engine's
// prefill speed (default 32,000: the simulator's step of 8192 tokens of
// 1000-token questions over a cached 8000-token prefix, ~0.25 s); it
// assumes the engine spends every step on what infergate sent, so it
// under- rather than overstates the queue.
//
// Why the threshold, and why only infergate's own sends trigger: under
// steady load an endpoint gets a request or two per step, and a scrape
// shows queues of requests infergate can no longer tell apart. Hiding
// matches on a scraped signal thrashed the caches once already (the room
// check on scraped KV usage, see has_room: routing benchmark, 49 % prefix
// hits against 99 %); scraped queues would do the same whenever another
// replica's queue was shorter. More pending prefill than one step's budget
// (maxQueuedPrefillTokens, vLLM's max_num_batched_tokens) sent to one
// endpoint by infergate is a burst; up to that, co-locating costs the
// request at most about a step. The scraped waiting queue does enter the
// estimate, on every candidate: it keeps a burst from spilling onto an
// engine whose queue is already long. A request sent recently and still
// waiting at the last scrape counts in both; that errs towards a busy
// engine looking busier.
//
// All per-request work is a few relaxed atomic loads per candidate (and a
// clock reading when the caller gave no time); two CAS on the chosen
// endpoint. No lock, and no allocation once this worker's vectors have
// grown to the pool's size.
#include <algorithm>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "picker/builtin_plugins.hpp"

namespace infergate::picker {

namespace {

// The matches before the checks, for this worker's current pick:
// pre_request charges the chosen endpoint what the request really adds
// there, even when its match was hidden from the scorer. produce() and
// pre_request() of one pick run on the same worker thread.
thread_local std::vector<uint32_t> t_raw_matched;
// Each candidate's pending prefill and first-token estimate in this pick
// (compute check).
thread_local std::vector<int64_t> t_pending;
thread_local std::vector<int64_t> t_first_token;

Clock::time_point decision_time(const SchedulingRequest& req) {
    return req.now == Clock::time_point{} ? Clock::now() : req.now;
}

}  // namespace

int64_t BurstAwarePrefixProducer::prefill_tokens(const PrefixMatchInfo& info, uint32_t matched) {
    const uint32_t unmatched = info.total_blocks > matched ? info.total_blocks - matched : 0;
    return int64_t(unmatched) * int64_t(info.block_size_tokens);
}

int64_t BurstAwarePrefixProducer::cost_tokens(const PrefixMatchInfo& info, uint32_t matched) const {
    return prefill_tokens(info, matched) + limits_.output_tokens;
}

bool BurstAwarePrefixProducer::has_room(const EndpointState& ep, int64_t cost) const {
    const double capacity =
        limits_.capacity_tokens > 0 ? double(limits_.capacity_tokens) : ep.kv_capacity_tokens();
    if (!(capacity > 0)) return true;  // unknown capacity: no check, as the approx producer
    const double limit = capacity * limits_.kv_util_threshold;
    const double scraped = ep.kv_usage() * capacity;
    // Already over the threshold by its last scrape: steady load, not a
    // burst we sent. Hiding the match there sent requests away from the
    // replicas holding their prefixes whenever another dipped under the
    // threshold, and each copy prefilled again (the routing benchmark at
    // 15 QPS: p90 TTFT 33.6 s against 0.2 s for the plain producer, hit
    // rate 49 % against 99 %). Steady KV pressure is the KV scorer's
    // business; this check only stops a burst from overfilling a replica.
    if (scraped >= limit) return true;
    return limit - scraped - double(ep.unseen_kv_tokens()) >= double(cost);
}

int64_t BurstAwarePrefixProducer::pending_tokens(const EndpointState& ep, Clock::time_point now) const {
    return ep.pending_prefill_tokens(now, double(limits_.prefill_tokens_per_second));
}

int64_t BurstAwarePrefixProducer::first_token_tokens(const EndpointState& ep, int64_t pending, int64_t prefill) {
    // The engine reports how many requests wait, not their lengths: each
    // counts as needing what this request needs there (in a burst they are
    // its siblings).
    const double waiting = std::clamp(ep.waiting(), 0.0, 1e6);
    return pending + int64_t(waiting + 1) * prefill;
}

void BurstAwarePrefixProducer::produce(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
                                       PrefixMatchInfo& out) const {
    ApproxPrefixCacheProducer::produce(req, candidates, out);
    t_raw_matched.assign(out.matched.begin(), out.matched.end());
    out.full.assign(candidates.size(), 0);
    if (out.total_blocks == 0) return;  // nothing to co-locate: no opinion
    const size_t n = std::min(candidates.size(), out.matched.size());
    for (size_t i = 0; i < n; ++i) {
        if (has_room(*candidates[i], cost_tokens(out, out.matched[i]))) continue;
        // Full: hide its match, so that the prefix does not pull the
        // request there, and mark it, so that it loses to any endpoint
        // with room (Scheduler::demote_full): the burst spills to the
        // best of those.
        out.matched[i] = 0;
        out.full[i] = 1;
    }
    if (limits_.max_queued_prefill_tokens < 0) return;
    // Compute: the earliest first token among the endpoints with room; an
    // endpoint over the queued-prefill threshold that would start later
    // is demoted like a full one. The earliest one itself always passes,
    // so this check never leaves every candidate demoted.
    const Clock::time_point now = decision_time(req);
    t_pending.resize(n);
    t_first_token.resize(n);
    int64_t earliest = std::numeric_limits<int64_t>::max();
    for (size_t i = 0; i < n; ++i) {
        if (out.full[i]) continue;
        t_pending[i] = pending_tokens(*candidates[i], now);
        t_first_token[i] = first_token_tokens(*candidates[i], t_pending[i], prefill_tokens(out, out.matched[i]));
        earliest = std::min(earliest, t_first_token[i]);
    }
    for (size_t i = 0; i < n; ++i) {
        if (out.full[i] || t_first_token[i] <= earliest) continue;
        if (t_pending[i] <= limits_.max_queued_prefill_tokens) continue;
        out.matched[i] = 0;
        out.full[i] = 1;
    }
}

void BurstAwarePrefixProducer::pre_request(const SchedulingRequest& req, EndpointState& chosen,
                                           const PrefixMatchInfo& mine) const {
    const uint32_t matched = mine.chosen < t_raw_matched.size() ? t_raw_matched[mine.chosen] : 0;
    chosen.add_unseen_kv_tokens(cost_tokens(mine, matched));
    chosen.add_pending_prefill_tokens(prefill_tokens(mine, matched), decision_time(req),
                                      double(limits_.prefill_tokens_per_second));
    ApproxPrefixCacheProducer::pre_request(req, chosen, mine);
}

std::unique_ptr<Plugin> make_burst_aware_prefix_producer(const config::PluginSpec& spec, ParamReader& params) {
    const ApproxPrefixParams p = read_prefix_params(params, plugin_name(spec));
    BurstAwarePrefixProducer::Limits l;
    l.kv_util_threshold = params.number("kvCacheUtilThreshold", l.kv_util_threshold, 0.01, 1.0);
    l.output_tokens = params.integer("outputTokensEstimate", l.output_tokens, 0, INT32_MAX);
    l.capacity_tokens = params.integer("kvCapacityTokens", l.capacity_tokens, 0, INT64_MAX / 4);
    l.max_queued_prefill_tokens =
        params.integer("maxQueuedPrefillTokens", l.max_queued_prefill_tokens, -1, 10000000);
    l.prefill_tokens_per_second =
        params.integer("prefillTokensPerSecond", l.prefill_tokens_per_second, 1, 1000000000);
    if (!params.ok()) return nullptr;
    return std::make_unique<BurstAwarePrefixProducer>(plugin_name(spec), p, l);
}

}  // namespace infergate::picker
