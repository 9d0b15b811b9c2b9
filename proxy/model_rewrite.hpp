// A pool's weighted model rewrite rules (config `model_rewrites`, the
// Gateway API Inference Extension's InferenceModelRewrite), indexed for the
// request path.
//
// Built once per Runtime snapshot on the control thread, then only read:
// any number of workers may call find() and choose() at once. Keys and
// target names are views into the Config the snapshot holds, so a table
// must not outlive that Config. A lookup is one hash of the model name and
// allocates nothing.
//
// Precedence follows llm-d-router pkg/epp/datastore/modelrewritestore.go
// (getRule): an exact match wins over the rule without matches (generic);
// the loader guarantees at most one of each per model and pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"

namespace infergate::proxy {

// One rule's targets, ready for a weighted draw.
struct RewriteTargets {
    const config::ModelRewrite* source = nullptr;  // its `name` goes to logs and metrics
    std::vector<std::string_view> models;          // `modelRewrite`, in file order
    std::vector<uint32_t> bounds;                  // running sums of the weights
    uint32_t total = 0;                            // bounds.back(); at most 2^31 - 1 (loader)

    // The target owning `random % total` (each target owns `weight`
    // consecutive residues, in file order), as the reference's
    // selectWeightedModel in pkg/epp/requestcontrol/director.go.
    std::string_view choose(uint32_t random) const;
};

class ModelRewriteTable {
public:
    ModelRewriteTable() = default;
    // The rules of every model_rewrites entry whose pool is `pool`.
    ModelRewriteTable(const config::Config& cfg, std::string_view pool);

    // The rule for a request whose body names `model` (as the pool would
    // receive it); nullptr when none applies.
    const RewriteTargets* find(std::string_view model) const;
    bool empty() const { return rules_.empty(); }

private:
    std::vector<RewriteTargets> rules_;
    std::unordered_map<std::string_view, size_t> exact_;  // model -> index into rules_
    size_t generic_ = SIZE_MAX;                            // the rule without matches, if any
};

}  // namespace infergate::proxy
