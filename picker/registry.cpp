// The plugin registry: one table, filled by hand.
#include "picker/registry.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "picker/builtin_plugins.hpp"
#include "picker/utilization.hpp"

namespace infergate::picker {

namespace {

// Sorted by type name.
constexpr PluginTypeInfo kImplemented[] = {
    {ActiveRequest::type_name, PluginKind::scorer, &make_active_request_scorer},
    {ApproxPrefixCacheProducer::type_name, PluginKind::producer, &make_approx_prefix_cache_producer},
    {BurstAwarePrefixProducer::type_name, PluginKind::producer, &make_burst_aware_prefix_producer},
    {"by-label", PluginKind::filter, &make_by_label_filter},
    {"by-label-selector", PluginKind::filter, &make_by_label_selector_filter},
    {"decode-filter", PluginKind::filter, &make_decode_filter},
    {"encode-filter", PluginKind::filter, &make_encode_filter},
    {KVCacheUtilizationScorer::type_name, PluginKind::scorer, &make_kv_cache_utilization_scorer},
    {"label-selector-filter", PluginKind::filter, &make_label_selector_filter},
    {LoadAwareScorer::type_name, PluginKind::scorer, &make_load_aware_scorer},
    {LoraAffinityScorer::type_name, PluginKind::scorer, &make_lora_affinity_scorer},
    {MaxScorePicker::type_name, PluginKind::picker, &make_max_score_picker},
    {NoHitLruScorer::type_name, PluginKind::scorer, &make_no_hit_lru_scorer},
    {"prefill-filter", PluginKind::filter, &make_prefill_filter},
    {PrefixCacheScorer::type_name, PluginKind::scorer, &make_prefix_cache_scorer},
    {QueueScorer::type_name, PluginKind::scorer, &make_queue_scorer},
    {RandomPicker::type_name, PluginKind::picker, &make_random_picker},
    {RunningRequestsSizeScorer::type_name, PluginKind::scorer, &make_running_requests_size_scorer},
    {SessionAffinityScorer::type_name, PluginKind::scorer, &make_session_affinity_scorer},
    {SingleProfileHandler::type_name, PluginKind::profile_handler, &make_single_profile_handler},
    {UtilizationDetector::type_name, PluginKind::filter, &make_utilization_detector},
    {UtilizationFilter::type_name, PluginKind::filter, &make_utilization_filter},
    {WeightedRandomPicker::type_name, PluginKind::picker, &make_weighted_random_picker},
};

// Every other type name registered by the reference's registerInTreePlugins
// (cmd/epp/runner/runner.go at ebab687927f5), constants resolved from their
// packages; sorted. Includes the non-scheduling ones (data layer, flow
// control, parsers, admitters): an EndpointPickerConfig may list them in
// `plugins`, and "not supported yet" is the honest answer for each.
constexpr std::string_view kReferenceOnly[] = {
    "agent-identity",
    "always-disagg-multimodal-decider",
    "always-disagg-pd-decider",
    "anthropic-parser",
    "burst-prefix-cache-producer",
    "concurrency-detector",
    "context-length-aware",
    "core-metrics-extractor",
    "data-parallel-profile-handler",
    "dcgm-data-source",
    "dcgm-extractor",
    "destination-endpoint-served-verifier",
    "disagg-headers-handler",
    "disagg-profile-handler",
    "disaggregatedset-rollout-screener",
    "edf-ordering-policy",
    "endpoint-attribute-filter",
    "endpoint-attribute-scorer",
    "endpoint-notification-source",
    "fcfs-ordering-policy",
    "file-discovery",
    "global-strict-fairness-policy",
    "header-based-testing-filter",
    "header-label-affinity-scorer",
    "header-profile-handler",
    "inflight-load-producer",
    "k8s-notification-source",
    "latency-scorer",
    "latency-slo-admitter",
    "metrics-data-source",
    "mm-embeddings-cache-producer",
    "mm-embeddings-cache-scorer",
    "models-data-extractor",
    "models-data-source",
    "multicluster-approx-prefix-cache-producer",
    "multicluster-file-discovery",
    "multicluster-kv-cache-utilization-scorer",
    "multicluster-metrics-data-source",
    "multicluster-metrics-extractor",
    "multicluster-prefix-cache-scorer",
    "multicluster-queue-scorer",
    "multicluster-session-affinity-filter",
    "openai-parser",
    "p2p-source-producer",
    "passthrough-parser",
    "pd-profile-handler",
    "precise-prefix-cache-producer",
    "precise-prefix-cache-scorer",
    "predicted-latency-producer",
    "prefill-header-handler",
    "prefix-based-pd-decider",
    "prefix-cache-affinity-filter",
    "priority-holdback-policy",
    "priority-then-time-eviction-order-policy",
    "probabilistic-admitter",
    "program-aware-fairness",
    "request-attribute-reporter",
    "round-robin-fairness-policy",
    "session-affinity-filter",
    "session-id-producer",
    "sglanghttp-parser",
    "sheddable-eviction-filter",
    "slo-deadline-ordering-policy",
    "slo-headroom-tier-filter",
    "soft-reflective-ceiling-policy",
    "static-usage-limit-policy",
    "token-load-scorer",
    "token-producer",
    "tokenizer",
    "topology-affinity-filter",
    "topology-affinity-scorer",
    "topology-extractor",
    "vertexai-parser",
    "vllmgrpc-parser",
    "vllmhttp-parser",
};

std::vector<std::string_view> all_known_types() {
    std::vector<std::string_view> names;
    names.reserve(std::size(kImplemented) + std::size(kReferenceOnly));
    for (const auto& t : kImplemented) names.push_back(t.type);
    for (const auto& t : kReferenceOnly) names.push_back(t);
    return names;
}

}  // namespace

std::span<const PluginTypeInfo> implemented_plugin_types() { return kImplemented; }

std::span<const std::string_view> reference_only_plugin_types() { return kReferenceOnly; }

bool is_reference_only_type(std::string_view type) {
    return std::binary_search(std::begin(kReferenceOnly), std::end(kReferenceOnly), type);
}

const PluginTypeInfo* find_plugin_type(std::string_view type) {
    for (const auto& t : kImplemented)
        if (t.type == type) return &t;
    return nullptr;
}

std::unique_ptr<Plugin> make_default_producer(std::string_view type) {
    const PluginTypeInfo* info = find_plugin_type(type);
    if (!info || info->kind != PluginKind::producer) return nullptr;
    config::PluginSpec spec;
    spec.type = std::string(type);
    spec.name = spec.type;
    std::vector<config::ConfigError> errors;
    ParamReader params(spec, "", errors);
    std::unique_ptr<Plugin> p = info->make(spec, params);
    params.finish();
    return errors.empty() ? std::move(p) : nullptr;
}

std::unique_ptr<Plugin> make_plugin(const config::PluginSpec& spec, const std::string& file,
                                    std::vector<config::ConfigError>& errors) {
    auto fail = [&](const config::Mark& mark, std::string message) {
        errors.push_back(config::ConfigError{with_file(mark, file), std::move(message)});
        return nullptr;
    };
    if (spec.type.empty())
        return fail(spec.mark, fmt::format("plugin '{}' is missing a type", spec.name));
    const PluginTypeInfo* info = find_plugin_type(spec.type);
    if (!info) {
        if (std::binary_search(std::begin(kReferenceOnly), std::end(kReferenceOnly), std::string_view(spec.type)))
            return fail(spec.type_mark, fmt::format("plugin type '{}' is not supported yet", spec.type));
        std::string msg = fmt::format("unknown plugin type '{}'", spec.type);
        if (const auto near = closest_name(spec.type, all_known_types()); !near.empty())
            msg += fmt::format(" (did you mean '{}'?)", near);
        return fail(spec.type_mark, std::move(msg));
    }
    ParamReader params(spec, file, errors);
    std::unique_ptr<Plugin> plugin = info->make(spec, params);
    params.finish();
    if (!params.ok()) return nullptr;
    return plugin;
}

}  // namespace infergate::picker
