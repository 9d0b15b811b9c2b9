// approx-prefix-cache-producer and prefix-cache-scorer. References
// (llm-d-router ebab687927f5): requestcontrol/dataproducer/approximateprefix/
// plugin.go (Produce, PreRequest, GetBlockSize, resolveMaxBlocks,
// ApproxPrefixCacheFactory), types.go (defaults), and
// scheduling/scorer/prefix/plugin.go (Score, PrefixCachePluginFactory).
#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "picker/builtin_plugins.hpp"
#include "picker/index_backlog.hpp"
#include "picker/prefix_hash.hpp"
#include "picker/prefix_index.hpp"

namespace infergate::picker {

namespace {

constexpr int64_t kDefaultBlockSizeTokens = 16;
constexpr int64_t kDefaultLruCapacity = 31250;
constexpr int64_t kMaxInt32 = INT32_MAX;
constexpr int64_t kMaxBlockSizeTokens = 1 << 20;  // 4 MiB blocks: beyond any context window

// Indexes by (pool, producer name, parameters), so that the producer built
// by a reload finds the index of the producer it replaces while the
// previous configuration is still alive. Touched only at config load.
class IndexRegistry {
public:
    std::shared_ptr<PrefixIndex> adopt(const std::string& key, std::shared_ptr<PrefixIndex> mine) {
        std::lock_guard lock(mu_);
        std::erase_if(live_, [](const auto& kv) { return kv.second.expired(); });
        auto& slot = live_[key];
        if (auto prev = slot.lock()) return prev;
        slot = mine;
        return mine;
    }

private:
    std::mutex mu_;
    std::map<std::string, std::weak_ptr<PrefixIndex>> live_;
};

IndexRegistry& index_registry() {
    static IndexRegistry r;
    return r;
}

}  // namespace

// The producer's parameters, on the producer or (older form) on the scorer.
// Reference: ApproxPrefixCacheFactory and newDataProducer's checks.
ApproxPrefixParams read_prefix_params(ParamReader& params, const std::string& plugin) {
    ApproxPrefixParams p;
    p.auto_tune = params.boolean("autoTune", true);
    p.block_size_tokens = params.integer("blockSizeTokens", kDefaultBlockSizeTokens, 0, kMaxBlockSizeTokens);
    // Deprecated character-based blockSize: the reference maps it into
    // blockSizeTokens as is (not divided by characters per token) when
    // blockSizeTokens was left at its default.
    const int64_t legacy = params.integer("blockSize", 0, 0, kMaxBlockSizeTokens);
    p.max_prefix_blocks = params.integer("maxPrefixBlocksToMatch", 2048, 0, kMaxInt32);
    p.max_prefix_tokens = params.integer("maxPrefixTokensToMatch", 131072, 0, kMaxInt32);
    p.lru_capacity = params.integer("lruCapacityPerServer", kDefaultLruCapacity, 0, kMaxInt32);
    if (legacy > 0 && p.block_size_tokens == kDefaultBlockSizeTokens) p.block_size_tokens = legacy;
    if (!p.auto_tune && p.block_size_tokens <= 0) {
        const config::Node* n = params.raw("blockSizeTokens");
        params.error(n ? n->mark : params.mark(),
                     fmt::format("parameter 'blockSizeTokens' of plugin '{}' must be > 0 when autoTune is false",
                                 plugin));
    }
    if (p.lru_capacity == 0) p.lru_capacity = kDefaultLruCapacity;  // as the reference's makeserver
    return p;
}

namespace {

constexpr std::string_view kProducerKeys[] = {"autoTune", "blockSizeTokens", "blockSize", "maxPrefixBlocksToMatch",
                                              "maxPrefixTokensToMatch", "lruCapacityPerServer"};

}  // namespace

int64_t ApproxPrefixParams::effective_block_tokens() const {
    return std::max(block_size_tokens, kMinBlockSizeTokens);
}

size_t ApproxPrefixParams::max_blocks() const {
    if (max_prefix_tokens > 0) return size_t(max_prefix_tokens / effective_block_tokens());
    if (max_prefix_blocks == 0) return SIZE_MAX;
    return size_t(max_prefix_blocks);
}

size_t ApproxPrefixParams::capacity() const { return size_t(lru_capacity > 0 ? lru_capacity : kDefaultLruCapacity); }

ApproxPrefixCacheProducer::ApproxPrefixCacheProducer(std::string name, const ApproxPrefixParams& params)
    : ApproxPrefixCacheProducer(type_name, std::move(name), params) {}

ApproxPrefixCacheProducer::ApproxPrefixCacheProducer(std::string_view type, std::string name,
                                                     const ApproxPrefixParams& params)
    : DataProducer(std::string(type), std::move(name)),
      params_(params),
      block_bytes_(size_t(params.effective_block_tokens()) * kCharsPerToken),
      max_blocks_(params.max_blocks()),
      capacity_(params.capacity()),
      index_(std::make_shared<PrefixIndex>()) {}

ApproxPrefixCacheProducer::~ApproxPrefixCacheProducer() = default;

void ApproxPrefixCacheProducer::produce(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
                                        PrefixMatchInfo& out) const {
    out.produced = true;
    out.block_size_tokens = uint32_t(params_.effective_block_tokens());
    prefix_block_hashes(req.prompt, prefix_seed(req.model, req.cache_salt), block_bytes_, max_blocks_, out.hashes);
    out.total_blocks = uint32_t(out.hashes.size());
    out.matched.resize(candidates.size());
    index_->match(out.hashes, candidates, out.matched);
}

void ApproxPrefixCacheProducer::pre_request(const SchedulingRequest&, EndpointState& chosen,
                                            const PrefixMatchInfo& mine) const {
    if (bound_) std::call_once(retain_once_, [this] { index_->retain(generation_, pool_uids_); });
    if (mine.hashes.empty()) return;
    const uint32_t matched = mine.chosen < mine.matched.size() ? mine.matched[mine.chosen] : 0;
    index_->record_decision(mine.total_blocks, matched);
    // The head now, the rest of a long chain after the request went
    // upstream (index_backlog.hpp).
    IndexBacklog::mine().record(index_, chosen.uid(), capacity_, mine.hashes);
}

void ApproxPrefixCacheProducer::bind_pool(const PoolContext& pool) {
    const std::string key = fmt::format("{}\n{}\n{}/{}/{}/{}/{}", pool.pool, name(), params_.auto_tune,
                                        params_.effective_block_tokens(), max_blocks_, capacity_,
                                        params_.max_prefix_tokens);
    index_ = index_registry().adopt(key, index_);
    pool_uids_.assign(pool.endpoint_uids.begin(), pool.endpoint_uids.end());
    generation_ = pool.generation;
    // The index may be shared with the running configuration: endpoints it
    // no longer lists are dropped when this configuration serves its first
    // request, not now (this build may still fail and be discarded); the
    // generation keeps a late first request of the previous configuration
    // from undoing that (PrefixIndex::retain).
    bound_ = true;
}

bool ApproxPrefixCacheProducer::index_stats(PrefixIndexStats& out) const {
    out.producer = name();
    out.index = index_.get();
    out.size_blocks = index_->size_blocks();
    const PrefixIndex::Counters c = index_->counters();
    out.lookups = c.lookups;
    out.hits = c.hits;
    out.matched_blocks = c.matched_blocks;
    out.total_blocks = c.total_blocks;
    uint64_t cum = 0;
    for (size_t k = 0; k < PrefixIndexStats::kBuckets; ++k) out.ratio_le[k] = cum += c.ratio_buckets[k];
    out.ratio_sum = c.ratio_sum;
    return true;
}

PrefixCacheScorer::PrefixCacheScorer(std::string name, std::string producer, double match_length_weight,
                                     int64_t match_length_scale_tokens, std::unique_ptr<Plugin> own_producer)
    : Scorer(std::string(type_name), std::move(name)),
      producer_(std::move(producer)),
      match_length_weight_(match_length_weight),
      match_length_scale_tokens_(double(match_length_scale_tokens)),
      own_producer_(std::move(own_producer)) {}

void PrefixCacheScorer::score(const SchedulingRequest&, std::span<EndpointState* const> candidates,
                              std::span<double> out) const {
    std::fill(out.begin(), out.begin() + ptrdiff_t(candidates.size()), 0.0);  // no producer data
}

void PrefixCacheScorer::score_with(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
                                   std::span<double> out, const PickScratch& scratch) const {
    if (slot_ >= scratch.prefix.size()) return score(req, candidates, out);
    const PrefixMatchInfo& info = scratch.prefix[slot_];
    if (!info.produced || info.total_blocks == 0 || info.matched.size() < candidates.size())
        return score(req, candidates, out);
    const double total = info.total_blocks;
    const double w = match_length_weight_;
    for (size_t i = 0; i < candidates.size(); ++i) {
        const double m = info.matched[i];
        double length_score = 0;
        if (w > 0 && info.block_size_tokens > 0) {
            const double norm = std::min(1.0, m * info.block_size_tokens / match_length_scale_tokens_);
            length_score = norm * norm;  // attention cost grows with the square of the length
        }
        out[i] = w * length_score + (1.0 - w) * (m / total);
    }
}

std::unique_ptr<Plugin> make_approx_prefix_cache_producer(const config::PluginSpec& spec, ParamReader& params) {
    const ApproxPrefixParams p = read_prefix_params(params, plugin_name(spec));
    if (!params.ok()) return nullptr;
    return std::make_unique<ApproxPrefixCacheProducer>(plugin_name(spec), p);
}

std::unique_ptr<Plugin> make_prefix_cache_scorer(const config::PluginSpec& spec, ParamReader& params) {
    const std::string& name = plugin_name(spec);
    const config::Node* producer_node = params.raw("prefixMatchInfoProducerName");
    std::string producer = params.string("prefixMatchInfoProducerName", "");
    const double weight = params.number("matchLengthWeight", 0.0, 0.0, 1.0);
    const int64_t scale = params.integer("matchLengthScaleTokens", 8192, 0, kMaxInt32);
    if (weight > 0 && scale == 0)
        params.error(params.raw("matchLengthScaleTokens")->mark,
                     fmt::format("parameter 'matchLengthScaleTokens' of plugin '{}' must be > 0 when "
                                 "matchLengthWeight is > 0", name));
    // The older form (the scorer hashed and indexed by itself): producer
    // parameters on the scorer give it a producer of its own, named after it.
    bool older_form = false;
    for (const std::string_view k : kProducerKeys) older_form = older_form || params.raw(k) != nullptr;
    std::unique_ptr<Plugin> own;
    if (older_form) {
        if (producer_node) {
            params.error(producer_node->mark,
                         fmt::format("plugin '{}': prefixMatchInfoProducerName cannot be combined with producer "
                                     "parameters on the scorer; put them on the producer", name));
            return nullptr;
        }
        const ApproxPrefixParams p = read_prefix_params(params, name);
        if (!params.ok()) return nullptr;
        own = std::make_unique<ApproxPrefixCacheProducer>(name, p);
        producer = name;
    }
    if (!params.ok()) return nullptr;
    if (producer.empty()) producer = std::string(ApproxPrefixCacheProducer::type_name);
    return std::make_unique<PrefixCacheScorer>(name, std::move(producer), weight, scale, std::move(own));
}

}  // namespace infergate::picker
