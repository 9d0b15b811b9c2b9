// The label filters: by-label and the role presets.
#include <algorithm>

#include "picker/builtin_plugins.hpp"

namespace infergate::picker {

// Reference: filter/bylabel/filter.go. Keeps order; compacts in place.
size_t ByLabelFilter::filter(const SchedulingRequest&, std::span<EndpointState*> candidates) const {
    size_t kept = 0;
    for (EndpointState* ep : candidates) {
        const auto& labels = ep->config().labels;
        auto it = labels.find(label_);
        bool keep = it == labels.end()
                        ? allows_no_label_
                        : std::find(valid_values_.begin(), valid_values_.end(), it->second) !=
                              valid_values_.end();
        if (keep) candidates[kept++] = ep;
    }
    return kept;
}

namespace {

// Reference: filter/bylabel/roles.go.
constexpr std::string_view kRoleLabel = "llm-d.ai/role";

}  // namespace

std::unique_ptr<Plugin> make_by_label_filter(const config::PluginSpec& spec, ParamReader& params) {
    std::string label = params.string("label", "");
    std::vector<std::string> values = params.string_list("validValues");
    bool allows_no_label = params.boolean("allowsNoLabel", false);
    if (!params.ok()) return nullptr;
    // The reference's Factory refuses the same two configurations.
    if (label.empty()) {
        params.error(params.mark(), "plugin '" + plugin_name(spec) + "' (by-label) needs parameter 'label'");
        return nullptr;
    }
    if (values.empty() && !allows_no_label) {
        params.error(params.mark(), "plugin '" + plugin_name(spec) +
                                        "' (by-label) needs 'validValues' or 'allowsNoLabel: true'");
        return nullptr;
    }
    return std::make_unique<ByLabelFilter>("by-label", plugin_name(spec), std::move(label),
                                           std::move(values), allows_no_label);
}

std::unique_ptr<Plugin> make_decode_filter(const config::PluginSpec& spec, ParamReader&) {
    return std::make_unique<ByLabelFilter>(
        "decode-filter", plugin_name(spec), std::string(kRoleLabel),
        std::vector<std::string>{"decode", "prefill-decode", "both", "encode-prefill-decode"}, true);
}

std::unique_ptr<Plugin> make_prefill_filter(const config::PluginSpec& spec, ParamReader&) {
    return std::make_unique<ByLabelFilter>(
        "prefill-filter", plugin_name(spec), std::string(kRoleLabel),
        std::vector<std::string>{"prefill", "encode-prefill", "prefill-decode", "both",
                                 "encode-prefill-decode"},
        false);
}

std::unique_ptr<Plugin> make_encode_filter(const config::PluginSpec& spec, ParamReader&) {
    return std::make_unique<ByLabelFilter>(
        "encode-filter", plugin_name(spec), std::string(kRoleLabel),
        std::vector<std::string>{"encode", "encode-prefill", "encode-prefill-decode"}, false);
}

}  // namespace infergate::picker
