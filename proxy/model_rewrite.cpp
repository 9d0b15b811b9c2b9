#include "proxy/model_rewrite.hpp"

#include <algorithm>

namespace infergate::proxy {

std::string_view RewriteTargets::choose(uint32_t random) const {
    uint32_t x = random % total;  // total >= 1: a rule has at least one target of weight >= 1
    size_t i = static_cast<size_t>(std::upper_bound(bounds.begin(), bounds.end(), x) - bounds.begin());
    return models[i];
}

ModelRewriteTable::ModelRewriteTable(const config::Config& cfg, std::string_view pool) {
    for (const config::ModelRewrite& mr : cfg.model_rewrites) {
        if (mr.pool != pool) continue;
        for (const config::RewriteRule& rule : mr.rules) {
            RewriteTargets t;
            t.source = &mr;
            for (const config::RewriteTarget& target : rule.targets) {
                t.total += target.weight;
                t.models.push_back(target.model_rewrite);
                t.bounds.push_back(t.total);
            }
            if (rule.models.empty()) generic_ = rules_.size();
            // emplace keeps the first rule for a model; the loader rejects a second.
            for (const std::string& m : rule.models) exact_.emplace(m, rules_.size());
            rules_.push_back(std::move(t));
        }
    }
}

const RewriteTargets* ModelRewriteTable::find(std::string_view model) const {
    if (rules_.empty()) return nullptr;
    auto it = exact_.find(model);
    if (it != exact_.end()) return &rules_[it->second];
    return generic_ != SIZE_MAX ? &rules_[generic_] : nullptr;
}

}  // namespace infergate::proxy
