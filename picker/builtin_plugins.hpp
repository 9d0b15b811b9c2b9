// The plugins implemented so far, under the reference's type names,
// parameter names and defaults (llm-d-router ebab687927f5; each class names
// the file it follows). Built by their factories (registry.cpp) from
// validated parameters; immutable afterwards.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "picker/params.hpp"
#include "picker/plugin.hpp"

namespace infergate::picker {

// queue-scorer (pkg/epp/framework/plugins/scheduling/scorer/queuedepth/queue.go):
// score = (maxQueue - queue) / (maxQueue - minQueue) over the candidates,
// 1.0 for all when every queue is the same. queue = engine's waiting count.
class QueueScorer final : public Scorer {
public:
    static constexpr std::string_view type_name = "queue-scorer";
    explicit QueueScorer(std::string name) : Scorer(std::string(type_name), std::move(name)) {}
    void score(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
               std::span<double> out) const override;
};

// load-aware-scorer (pkg/epp/framework/plugins/scheduling/scorer/loadaware/load_aware.go):
// from the scraped waiting queue: 0.5 when empty, else
// 0.5 * (1 - min(queue, threshold) / threshold); `threshold` default 128.
class LoadAwareScorer final : public Scorer {
public:
    static constexpr std::string_view type_name = "load-aware-scorer";
    LoadAwareScorer(std::string name, double threshold)
        : Scorer(std::string(type_name), std::move(name)), threshold_(threshold) {}
    void score(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
               std::span<double> out) const override;

private:
    double threshold_;
};

// running-requests-size-scorer
// (pkg/epp/framework/plugins/scheduling/scorer/runningrequests/runningrequest.go):
// queue-scorer's min-max formula over the scraped running-request counts.
class RunningRequestsSizeScorer final : public Scorer {
public:
    static constexpr std::string_view type_name = "running-requests-size-scorer";
    explicit RunningRequestsSizeScorer(std::string name) : Scorer(std::string(type_name), std::move(name)) {}
    void score(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
               std::span<double> out) const override;
};

// kv-cache-utilization-scorer
// (pkg/epp/framework/plugins/scheduling/scorer/kvcacheutilization/kvcache_utilization.go):
// score = 1 - KV-cache usage.
class KVCacheUtilizationScorer final : public Scorer {
public:
    static constexpr std::string_view type_name = "kv-cache-utilization-scorer";
    explicit KVCacheUtilizationScorer(std::string name)
        : Scorer(std::string(type_name), std::move(name)) {}
    void score(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
               std::span<double> out) const override;
};

// active-request-scorer
// (pkg/epp/framework/plugins/scheduling/scorer/activerequest/active_request.go).
// count = requests infergate has in flight to the endpoint (the reference
// reads the same number from its inflight-load-producer).
//   count <= idleThreshold:  1.0
//   otherwise:               (maxCount - count) / maxCount * maxBusyScore
// Parameters: idleThreshold (int >= 0, default 0), maxBusyScore ([0, 1],
// default 1.0); requestTimeout and inFlightLoadProducerName are accepted
// and ignored, as the reference ignores the former and infergate has no
// producer plugins.
class ActiveRequest final : public Scorer {
public:
    static constexpr std::string_view type_name = "active-request-scorer";
    ActiveRequest(std::string name, int64_t idle_threshold, double max_busy_score)
        : Scorer(std::string(type_name), std::move(name)),
          idle_threshold_(idle_threshold),
          max_busy_score_(max_busy_score) {}
    void score(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
               std::span<double> out) const override;
    int64_t idle_threshold() const { return idle_threshold_; }
    double max_busy_score() const { return max_busy_score_; }

private:
    int64_t idle_threshold_;
    double max_busy_score_;
};

// session-affinity-scorer (scorer/sessionaffinity/, see session_affinity.cpp):
// 1.0 for the endpoint whose token the request carries in `header`
// (default x-session-token), 0 for the others; the response echoes the
// chosen endpoint's token in the same header.
class SessionAffinityScorer final : public Scorer {
public:
    static constexpr std::string_view type_name = "session-affinity-scorer";
    SessionAffinityScorer(std::string name, std::string header)
        : Scorer(std::string(type_name), std::move(name)), header_(std::move(header)) {}
    void score(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
               std::span<double> out) const override;
    std::string_view echo_header() const override { return header_; }

private:
    std::string header_;  // lower case
};

// lora-affinity-scorer
// (pkg/epp/framework/plugins/scheduling/scorer/loraaffinity/lora_affinity.go):
// the request's adapter is its `model`; per endpoint, from the scraped
// vllm:lora_requests_info (prom_text.hpp, extract_lora_adapters):
//   1.0  the adapter is running
//   0.8  else, running + waiting adapters < max_lora (room to load it)
//   0.6  else, the adapter is waiting to be loaded
//   0.0  otherwise, including an engine that reports no LoRA metric
//        (max_lora 0), as in the reference; for a base-model request every
//        such endpoint scores the same, so the scorer does not tilt it.
// No parameters.
class LoraAffinityScorer final : public Scorer {
public:
    static constexpr std::string_view type_name = "lora-affinity-scorer";
    explicit LoraAffinityScorer(std::string name) : Scorer(std::string(type_name), std::move(name)) {}
    void score(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
               std::span<double> out) const override;
};

// by-label (pkg/epp/framework/plugins/scheduling/filter/bylabel/filter.go):
// keeps endpoints whose label `label` has one of `validValues`, and, with
// `allowsNoLabel`, those without the label. decode-filter, prefill-filter
// and encode-filter (roles.go) are presets on the label llm-d.ai/role;
// without P/D disaggregation no endpoint carries a role, so decode-filter
// keeps them all.
class ByLabelFilter final : public Filter {
public:
    ByLabelFilter(std::string_view type, std::string name, std::string label,
                  std::vector<std::string> valid_values, bool allows_no_label)
        : Filter(std::string(type), std::move(name)), label_(std::move(label)),
          valid_values_(std::move(valid_values)), allows_no_label_(allows_no_label) {}
    size_t filter(const SchedulingRequest& req, std::span<EndpointState*> candidates) const override;

private:
    std::string label_;
    std::vector<std::string> valid_values_;
    bool allows_no_label_;
};

// One requirement of a Kubernetes label selector (metav1.LabelSelector as
// turned into labels.Selector by LabelSelectorAsSelector). matchLabels
// entries become `in` with one value, which matches exactly like the
// Equals operator they become in Kubernetes.
struct LabelRequirement {
    enum class Op { in, not_in, exists, does_not_exist };
    std::string key;
    Op op = Op::in;
    std::vector<std::string> values;  // in, not_in: at least one; else none
};

// label-selector-filter, and its deprecated alias by-label-selector
// (pkg/epp/framework/plugins/scheduling/filter/bylabel/selector.go):
// keeps the endpoints whose labels satisfy every requirement (AND).
//   In: the label is present with one of the values; NotIn: absent, or a
//   value not listed; Exists / DoesNotExist: present / absent.
// No requirement (no parameters, or empty ones) keeps every endpoint, as
// Kubernetes' empty selector matches everything.
class LabelSelectorFilter final : public Filter {
public:
    LabelSelectorFilter(std::string_view type, std::string name, std::vector<LabelRequirement> reqs)
        : Filter(std::string(type), std::move(name)), reqs_(std::move(reqs)) {}
    size_t filter(const SchedulingRequest& req, std::span<EndpointState*> candidates) const override;
    bool matches(const std::map<std::string, std::string>& labels) const;

private:
    std::vector<LabelRequirement> reqs_;
};

// What the three pickers share: maxNumOfEndpoints (int >= 1, default 1)
// is accepted for config compatibility. The reference returns that many
// endpoints as fallbacks (picker/common.go); infergate picks one and
// retries elsewhere through PoolPicker's exclude.
class CountedPicker : public Picker {
public:
    CountedPicker(std::string_view type, std::string name, int64_t max_num_of_endpoints)
        : Picker(std::string(type), std::move(name)), max_num_of_endpoints_(max_num_of_endpoints) {}
    int64_t max_num_of_endpoints() const { return max_num_of_endpoints_; }

private:
    int64_t max_num_of_endpoints_;
};

// max-score-picker (pkg/epp/framework/plugins/scheduling/picker/maxscore/picker.go):
// the highest total; ties broken uniformly at random (the reference
// shuffles, then stable-sorts by score).
class MaxScorePicker final : public CountedPicker {
public:
    static constexpr std::string_view type_name = "max-score-picker";
    MaxScorePicker(std::string name, int64_t n) : CountedPicker(type_name, std::move(name), n) {}
    size_t pick(std::span<EndpointState* const> candidates, std::span<const double> totals,
                std::minstd_rand& rng) const override;
};

// random-picker (pkg/epp/framework/plugins/scheduling/picker/random/picker.go):
// uniform over the candidates, scores ignored.
class RandomPicker final : public CountedPicker {
public:
    static constexpr std::string_view type_name = "random-picker";
    RandomPicker(std::string name, int64_t n) : CountedPicker(type_name, std::move(name), n) {}
    size_t pick(std::span<EndpointState* const> candidates, std::span<const double> totals,
                std::minstd_rand& rng) const override;
};

// weighted-random-picker (pkg/epp/framework/plugins/scheduling/picker/weightedrandom/picker.go):
// a draw with probability proportional to the total score. Endpoints
// scoring <= 0 are never drawn; when none scores above 0 the choice is
// uniform (the reference hands over to random-picker).
class WeightedRandomPicker final : public CountedPicker {
public:
    static constexpr std::string_view type_name = "weighted-random-picker";
    WeightedRandomPicker(std::string name, int64_t n) : CountedPicker(type_name, std::move(name), n) {}
    size_t pick(std::span<EndpointState* const> candidates, std::span<const double> totals,
                std::minstd_rand& rng) const override;
};

// single-profile-handler
// (pkg/epp/framework/plugins/scheduling/profilehandler/single/single_profile_handler.go):
// runs the only profile; its result is the primary one. No parameters.
class SingleProfileHandler final : public ProfileHandler {
public:
    static constexpr std::string_view type_name = "single-profile-handler";
    explicit SingleProfileHandler(std::string name)
        : ProfileHandler(std::string(type_name), std::move(name)) {}
};

// Factories: read and validate parameters through `params` (the registry
// reports unknown keys afterwards). Return null only when `params` has
// reported an error.
std::unique_ptr<Plugin> make_queue_scorer(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_kv_cache_utilization_scorer(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_active_request_scorer(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_load_aware_scorer(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_running_requests_size_scorer(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_max_score_picker(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_random_picker(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_weighted_random_picker(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_by_label_filter(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_decode_filter(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_prefill_filter(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_encode_filter(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_session_affinity_scorer(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_lora_affinity_scorer(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_label_selector_filter(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_by_label_selector_filter(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_single_profile_handler(const config::PluginSpec& spec, ParamReader& params);

// --- approximate prefix caching (prefix_cache.cpp) ---

class PrefixIndex;

// approx-prefix-cache-producer's parameters, with the reference's names
// and defaults (requestcontrol/dataproducer/approximateprefix/types.go,
// plugin.go). They may also sit on prefix-cache-scorer (the older form).
struct ApproxPrefixParams {
    bool auto_tune = true;               // autoTune
    int64_t block_size_tokens = 16;      // blockSizeTokens (vLLM's block size)
    int64_t max_prefix_blocks = 2048;    // maxPrefixBlocksToMatch
    int64_t max_prefix_tokens = 131072;  // maxPrefixTokensToMatch (wins when > 0)
    int64_t lru_capacity = 31250;        // lruCapacityPerServer (0: the default)

    // The reference's minBlockSizeTokens: smaller block sizes are raised
    // to it at request time (GetBlockSize), so the 16 default means 64.
    static constexpr int64_t kMinBlockSizeTokens = 64;
    int64_t effective_block_tokens() const;
    // The reference's resolveMaxBlocks: tokens / block size when the token
    // cap is set, else the block cap, 0 for both meaning unlimited.
    size_t max_blocks() const;
    size_t capacity() const;  // per endpoint
    bool operator==(const ApproxPrefixParams&) const = default;
};

// approx-prefix-cache-producer
// (requestcontrol/dataproducer/approximateprefix/plugin.go, indexer.go):
// hashes the request's prompt once (prefix_hash.hpp), matches the chain
// against its index (prefix_index.hpp) for every candidate, and at
// decision time records the chain as held by the chosen endpoint.
// autoTune is accepted; it would read the engine's block size and number
// of GPU blocks from vllm:cache_config_info, which infergate does not
// scrape yet, so the configured values are used, as the reference does
// when those metrics are missing.
class ApproxPrefixCacheProducer : public DataProducer {
public:
    static constexpr std::string_view type_name = "approx-prefix-cache-producer";
    ApproxPrefixCacheProducer(std::string name, const ApproxPrefixParams& params);
    ~ApproxPrefixCacheProducer() override;
    void produce(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
                 PrefixMatchInfo& out) const override;
    void pre_request(const SchedulingRequest& req, EndpointState& chosen,
                     const PrefixMatchInfo& mine) const override;
    void bind_pool(const PoolContext& pool) override;
    bool index_stats(PrefixIndexStats& out) const override;
    const ApproxPrefixParams& params() const { return params_; }
    PrefixIndex& index() const { return *index_; }

protected:
    // For producers built on this one (burst-aware-prefix-producer).
    ApproxPrefixCacheProducer(std::string_view type, std::string name, const ApproxPrefixParams& params);

private:
    ApproxPrefixParams params_;
    size_t block_bytes_;  // effective block size in tokens * kCharsPerToken
    size_t max_blocks_;
    size_t capacity_;
    std::shared_ptr<PrefixIndex> index_;
    // Set by bind_pool: the pool's endpoints, kept in the index once this
    // configuration serves (see bind_pool).
    bool bound_ = false;
    std::vector<uint32_t> pool_uids_;
    uint64_t generation_ = 0;
    mutable std::once_flag retain_once_;
};

// burst-aware-prefix-producer: infergate's own answer to bursts, fed to
// prefix-cache-scorer like the reference's burst-prefix-cache-producer
// (which holds requests for a window, default 100 ms, and places them
// jointly). This one decides each request at once (burst_prefix.cpp): it
// is approx-prefix-cache-producer (same parameters, same index: blocks are
// recorded at decision time, so the index already shows requests the
// 50 ms-old metrics do not) plus two checks that hide a candidate's prefix
// match and make it lose to every candidate that passes both
// (PrefixMatchInfo::full):
// - room: an endpoint keeps its match only while its KV room, capacity x
//   kvCacheUtilThreshold minus scraped usage minus the tokens infergate
//   sent it since that scrape, covers what this request adds there (its
//   unmatched prompt tokens plus outputTokensEstimate). Capacity comes from
//   the engine (vLLM cache_config_info) or kvCapacityTokens; with neither
//   known this check is off.
// - compute: an endpoint with more than maxQueuedPrefillTokens prompt
//   tokens to prefill pending from infergate's sends (drained at
//   prefillTokensPerSecond from each send on) keeps its match only while it
//   would still give this request its first token as early as any other
//   candidate that has room, by an estimate in prefill tokens: those
//   pending tokens, plus this request's unmatched tokens there for itself
//   and for each request the last scrape showed waiting. -1 turns this
//   check off.
// A burst sharing a prefix therefore co-locates on one endpoint until its
// prefill queue is longer than recomputing the prefix elsewhere (or its
// room runs out), then spills to the best endpoint that passes, which
// holds the prefix from then on.
class BurstAwarePrefixProducer final : public ApproxPrefixCacheProducer {
public:
    static constexpr std::string_view type_name = "burst-aware-prefix-producer";
    struct Limits {
        double kv_util_threshold = 0.8;             // kvCacheUtilThreshold
        int64_t output_tokens = 256;                // outputTokensEstimate
        int64_t capacity_tokens = 0;                // kvCapacityTokens: 0 = from the engine
        int64_t max_queued_prefill_tokens = 8192;   // maxQueuedPrefillTokens: -1 = no compute check
        int64_t prefill_tokens_per_second = 32000;  // prefillTokensPerSecond
    };
    BurstAwarePrefixProducer(std::string name, const ApproxPrefixParams& params, Limits limits)
        : ApproxPrefixCacheProducer(type_name, std::move(name), params), limits_(limits) {}
    void produce(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
                 PrefixMatchInfo& out) const override;
    void pre_request(const SchedulingRequest& req, EndpointState& chosen,
                     const PrefixMatchInfo& mine) const override;
    // Prompt tokens `ep` must prefill for this request, given the blocks it
    // already holds; tokens placing the request there adds to its KV cache
    // (those plus the output estimate); and whether `ep` has room for that.
    static int64_t prefill_tokens(const PrefixMatchInfo& info, uint32_t matched);
    int64_t cost_tokens(const PrefixMatchInfo& info, uint32_t matched) const;
    bool has_room(const EndpointState& ep, int64_t cost) const;
    // The compute check: prompt tokens infergate sent `ep` still pending
    // at `now`; and the estimate of the prefill tokens `ep` computes before
    // this request's first token, given those and the request's own
    // `prefill` there (burst_prefix.cpp).
    int64_t pending_tokens(const EndpointState& ep, Clock::time_point now) const;
    static int64_t first_token_tokens(const EndpointState& ep, int64_t pending, int64_t prefill);

private:
    Limits limits_;
};

// prefix-cache-scorer (scheduling/scorer/prefix/plugin.go):
//   score = matchLengthWeight * min(1, matched * blockSize / matchLengthScaleTokens)^2
//         + (1 - matchLengthWeight) * matched / total
// from the producer named by prefixMatchInfoProducerName (default
// approx-prefix-cache-producer, created with its defaults when the config
// lists none); 0 when the prompt has no block. matchLengthWeight defaults
// to 0 (score = matched / total), matchLengthScaleTokens to 8192.
class PrefixCacheScorer final : public Scorer {
public:
    static constexpr std::string_view type_name = "prefix-cache-scorer";
    PrefixCacheScorer(std::string name, std::string producer, double match_length_weight,
                      int64_t match_length_scale_tokens, std::unique_ptr<Plugin> own_producer);
    void score(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
               std::span<double> out) const override;
    void score_with(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
                    std::span<double> out, const PickScratch& scratch) const override;
    std::string_view producer_name() const override { return producer_; }
    void bind_producer(size_t slot) override { slot_ = slot; }
    std::unique_ptr<Plugin> take_own_producer() override { return std::move(own_producer_); }

private:
    std::string producer_;
    double match_length_weight_;
    double match_length_scale_tokens_;
    std::unique_ptr<Plugin> own_producer_;
    size_t slot_ = SIZE_MAX;
};

// no-hit-lru-scorer (scheduling/scorer/nohitlru/no_hit_lru.go): for cold
// requests (no candidate matched any prefix block), endpoints that never
// served a cold request score highest, then the least recently used ones:
// 1 - rank / (n - 1); warm requests get 0.5 for all. The LRU (lruSize
// endpoints, default 1024) is updated after the pick for cold requests. It
// is one ordered list per scorer behind a mutex, taken only on cold
// requests (the ranking needs one global order; an endpoint list is short).
class NoHitLruScorer final : public Scorer {
public:
    static constexpr std::string_view type_name = "no-hit-lru-scorer";
    NoHitLruScorer(std::string name, std::string producer, size_t lru_size)
        : Scorer(std::string(type_name), std::move(name)), producer_(std::move(producer)), lru_size_(lru_size) {}
    void score(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
               std::span<double> out) const override;
    void score_with(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
                    std::span<double> out, const PickScratch& scratch) const override;
    std::string_view producer_name() const override { return producer_; }
    void bind_producer(size_t slot) override { slot_ = slot; }
    void pre_request(const SchedulingRequest& req, EndpointState& chosen, const PickScratch& scratch) const override;
    bool wants_pre_request() const override { return true; }
    size_t lru_size() const { return lru_size_; }
    // Endpoint uids, least recently used first (tests).
    std::vector<uint32_t> lru_order() const;

private:
    void score_cold(std::span<EndpointState* const> candidates, std::span<double> out) const;
    std::string producer_;
    size_t lru_size_;
    size_t slot_ = SIZE_MAX;
    mutable std::mutex mu_;
    mutable std::vector<uint32_t> order_;  // least recently used first
};

std::unique_ptr<Plugin> make_approx_prefix_cache_producer(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_burst_aware_prefix_producer(const config::PluginSpec& spec, ParamReader& params);
// The approx producer's parameters (also read by the burst-aware one and
// by prefix-cache-scorer's older form); errors go through `params`.
ApproxPrefixParams read_prefix_params(ParamReader& params, const std::string& plugin);
std::unique_ptr<Plugin> make_no_hit_lru_scorer(const config::PluginSpec& spec, ParamReader& params);
std::unique_ptr<Plugin> make_prefix_cache_scorer(const config::PluginSpec& spec, ParamReader& params);

}  // namespace infergate::picker
