#include "proxy/model_labels.hpp"

#include <algorithm>

namespace infergate::proxy {

ModelLabels::ModelLabels(std::vector<std::string> names, std::vector<int> priorities)
    : priorities_(std::move(priorities)) {
    std::sort(priorities_.begin(), priorities_.end());
    priorities_.erase(std::unique(priorities_.begin(), priorities_.end()), priorities_.end());
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    std::erase_if(names, [](const std::string& n) { return n.empty() || n == kOtherName; });
    names_.reserve(names.size() + 2);
    names_.emplace_back();
    names_.emplace_back(kOtherName);
    for (std::string& n : names) names_.push_back(std::move(n));
}

uint32_t ModelLabels::index(std::string_view model) const {
    if (model.empty()) return kNone;
    if (model == kOtherName) return kOther;
    auto it = std::lower_bound(names_.begin() + 2, names_.end(), model,
                               [](const std::string& a, std::string_view b) { return a < b; });
    if (it == names_.end() || *it != model) return kOther;
    return static_cast<uint32_t>(it - names_.begin());
}

uint32_t ModelLabels::priority_index(int priority) const {
    auto it = std::lower_bound(priorities_.begin(), priorities_.end(), priority);
    if (it == priorities_.end() || *it != priority) return kNoPriority;
    return static_cast<uint32_t>(it - priorities_.begin());
}

ModelLabels model_labels_for(const config::Config& cfg) {
    // Extend here when the config grows other places that name models.
    std::vector<std::string> names;
    for (const config::Route& r : cfg.routes) {
        if (r.match.model) names.push_back(*r.match.model);
        for (const config::Backend& b : r.backends)
            if (b.model_rewrite) names.push_back(*b.model_rewrite);
    }
    for (const config::ModelRewrite& mr : cfg.model_rewrites)
        for (const config::RewriteRule& rule : mr.rules) {
            for (const std::string& m : rule.models) names.push_back(m);
            for (const config::RewriteTarget& t : rule.targets) names.push_back(t.model_rewrite);
        }
    // Every priority Runtime::priority can return: a route's, or an
    // objective's.
    std::vector<int> priorities;
    for (const config::Route& r : cfg.routes) priorities.push_back(r.priority);
    for (const config::Objective& o : cfg.objectives) priorities.push_back(o.priority);
    return ModelLabels(std::move(names), std::move(priorities));
}

}  // namespace infergate::proxy
