// The bounded set of values the model_name, target_model_name and priority
// labels of the inference_objective_* metrics may take, fixed per runtime
// snapshot.
//
// A request's "model" is client input: labelling metrics with it as sent
// would let any client grow the number of series without limit. Names the
// config declares (route match models, backend model_rewrite targets, the
// models and targets of model_rewrites rules) keep their own label; every other name is counted under "other", and a
// request without a model under "". The reference bounds the same labels
// (llm-d-router pkg/epp/metrics/cardinality.go) but admits the first 1000
// names it sees and pins only configured rewrite names; infergate admits
// only configured names, so which names get their own series does not
// depend on what clients sent first, and the hot path needs no shared,
// mutable set (see README, "GIE-compatible metrics").
//
// Priorities are bounded by the config too (route and objective
// priorities): they are numbered here so that per-worker caches can be
// indexed by (model, target, priority) label indices.
//
// Immutable after construction; lookups do not allocate.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace infergate::proxy {

class ModelLabels {
public:
    static constexpr uint32_t kNone = 0;   // label "": the request named no model
    static constexpr uint32_t kOther = 1;  // label "other": not in the config
    static constexpr std::string_view kOtherName = "other";

    static constexpr uint32_t kNoPriority = UINT32_MAX;  // a priority not in the set

    explicit ModelLabels(std::vector<std::string> names = {}, std::vector<int> priorities = {});

    // The label index for a request's model name.
    uint32_t index(std::string_view model) const;
    const std::string& name(uint32_t i) const { return names_[i]; }
    size_t size() const { return names_.size(); }

    // The index of `priority` among the configured priorities (binary
    // search), or kNoPriority.
    uint32_t priority_index(int priority) const;
    size_t priority_count() const { return priorities_.size(); }

private:
    std::vector<std::string> names_;  // "", "other", then the config's names sorted
    std::vector<int> priorities_;     // sorted, distinct
};

// The model names and the priorities `cfg` declares.
ModelLabels model_labels_for(const config::Config& cfg);

}  // namespace infergate::proxy
