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

#include <array>
#include <chrono>
#include <cstddef>
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

// The request's headers, looked up by lower-case name; the proxy adapts
// its parsed head to this. An absent header reads as empty.
class RequestHeaders {
public:
    virtual std::string_view get(std::string_view lower_name) const = 0;

protected:
    ~RequestHeaders() = default;
};

// What the picker knows of a request. Views into the proxy's request
// context, valid for the duration of one pick.
struct SchedulingRequest {
    std::string_view request_id;
    std::string_view model;  // as sent upstream: after model_rewrite and model_rewrites
    std::string_view path;
    // The text the prefix-cache producers hash: a completion's prompt, or a
    // chat's messages rendered as text (proxy/openai_body.hpp). May be empty.
    std::string_view prompt;
    // vLLM's `cache_salt`: requests with different salts never share cache.
    std::string_view cache_salt;
    const RequestHeaders* headers = nullptr;  // null: no headers
    // The objective's priority; negative means sheddable.
    int priority = 0;
    // When the decision is made: PoolPicker::pick sets it from its `now`
    // when left unset (epoch); a plugin reading time uses it, or the clock
    // when it is still unset (Scheduler::run called directly).
    Clock::time_point now{};

    std::string_view header(std::string_view lower_name) const {
        return headers ? headers->get(lower_name) : std::string_view{};
    }
};

// What a prefix-cache producer found for one request, for the scorers
// that name it (prefix-cache-scorer's prefixMatchInfoProducerName).
struct PrefixMatchInfo {
    bool produced = false;         // set by the producer for this pick
    uint32_t block_size_tokens = 0;
    uint32_t total_blocks = 0;     // blocks in the request's prompt (capped)
    std::vector<uint64_t> hashes;  // the request's chained block hashes
    // Matched blocks per candidate, aligned with PickScratch::candidates
    // after the filters ran.
    std::vector<uint32_t> matched;
    // Candidates the producer rules out for this request (same alignment;
    // empty when the producer does not judge): they lose to any candidate
    // not ruled out. burst-aware-prefix-producer rules out endpoints
    // without KV room, and endpoints with a burst's prefill queued that
    // would start this request later than another.
    std::vector<uint8_t> full;
    // Set by the scheduler before the producers' pre_request: the chosen
    // endpoint's index in `matched`.
    size_t chosen = SIZE_MAX;
};

// Per-worker scratch space; reused across picks.
struct PickScratch {
    std::vector<EndpointState*> candidates;
    std::vector<double> scores;
    std::vector<double> totals;
    // One slot per data producer of the scheduler, in build order.
    std::vector<PrefixMatchInfo> prefix;
    std::minstd_rand rng{std::random_device{}()};
};

struct PickResult {
    enum class Status {
        ok,
        no_healthy_endpoint,  // every endpoint is down (or the pool is empty)
        no_fresh_metrics,     // fail-close pool and no endpoint has fresh metrics
        // Admission: the request is sheddable (priority < 0) and the pool's
        // saturation detector reports >= 1.0. The proxy answers 429 with
        // Retry-After (the reference's ResourceExhausted).
        shed,
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
    // Accepted but worth telling the operator at load: sections not acted
    // on, unsupported plugins dropped under ignore_unsupported_plugins.
    std::vector<config::ConfigError> warnings;
};

// The pool a scheduler is built for. Stateful plugins use it to carry
// their state over a reload: an approx-prefix-cache-producer with the same
// pool, name and parameters as one still alive (the previous
// configuration's) shares its index, keeping only `endpoint_uids` once
// this configuration serves, unless a configuration with a higher
// `generation` already did.
struct PoolContext {
    std::string_view pool;
    std::span<const uint32_t> endpoint_uids;  // EndpointState::uid() of the pool's endpoints
    // The configuration's number, increasing with every build that may
    // serve (the proxy's runtime generation).
    uint64_t generation = 0;
};

// Validates and builds a pool's scheduler. With `cfg.present == false`
// the reference's default profile is used. `pool` may be null (tests):
// every prefix index is then new.
BuildResult build_scheduler(const config::SchedulerConfig& cfg, const PoolContext* pool = nullptr);

// The type names build_scheduler accepts, sorted.
std::vector<std::string> registered_plugin_types();

// What the proxy needs from a built scheduler besides picking.
// Response headers to add for the chosen endpoint: the session-affinity
// scorer's token header (name, and the value is endpoint_token()).
std::span<const std::string> session_headers(const Scheduler& s);
// Scorer names of the profile, in order: /debug/endpoints labels each
// endpoint's EndpointState::last_scores with them.
std::vector<std::string> scorer_names(const Scheduler& s);

// Statistics of one prefix index (one approx-prefix-cache-producer), for
// the reference's inference_extension_prefix_indexer_size (a gauge:
// size_blocks) and inference_extension_prefix_indexer_hit_ratio (a
// histogram, buckets 0, 0.1, ..., 1.0: one observation per decision whose
// prompt has at least one block, of the chosen endpoint's matched / total
// blocks; reference approximateprefix/metrics.go and plugin.go PreRequest).
// Counters are cumulative since the index was created; an index survives
// reloads that keep its pool, name and parameters.
struct PrefixIndexStats {
    std::string producer;      // the producer's name
    // Identity of the index (never dereferenced): producers that share one
    // index (e.g. a reload's producer adopting its predecessor's) report
    // the same value, so that a sum over producers counts it once.
    const void* index = nullptr;
    uint64_t size_blocks = 0;  // (endpoint, block) entries held
    uint64_t lookups = 0;      // observations (decisions with >= 1 block)
    uint64_t hits = 0;         // of those, the chosen endpoint matched >= 1 block
    uint64_t matched_blocks = 0, total_blocks = 0;  // summed over the observations
    static constexpr size_t kBuckets = 11;  // upper bounds k / 10, k = 0..10
    std::array<uint64_t, kBuckets> ratio_le{};  // cumulative: observations with ratio <= k / 10
    double ratio_sum = 0;                       // the histogram's _sum
};
// One entry per prefix index the scheduler's producers own, in build order.
std::vector<PrefixIndexStats> prefix_index_stats(const Scheduler& s);

// One pool's picking policy over its live endpoints.
//
// Order of decisions: admission first — on the first attempt (`exclude`
// null) a request with negative priority is shed when the scheduler's
// saturation detector reports the pool saturated (stale or missing metrics
// count as saturated, so with no fresh endpoint sheddable requests are
// shed whatever the failure mode); a retry was admitted already. Then
// endpoints marked down are skipped; among the rest,
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
    const Scheduler* scheduler() const { return scheduler_.get(); }
    // The pool's saturation per its detector (>= 1: sheddable requests are
    // shed); NaN without a scheduler. For /debug/endpoints.
    double saturation(Clock::time_point now) const;

private:
    std::string pool_;
    std::vector<std::shared_ptr<EndpointState>> endpoints_;
    std::shared_ptr<const Scheduler> scheduler_;
    std::chrono::milliseconds staleness_;
    config::FailureMode mode_;
};

}  // namespace infergate::picker
