// label-selector-filter (and by-label-selector): a Kubernetes label
// selector over the endpoints' configured labels.
//
// Reference: pkg/epp/framework/plugins/scheduling/filter/bylabel/selector.go,
// whose parameters decode into a metav1.LabelSelector and become a
// labels.Selector through LabelSelectorAsSelector
// (k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go). Validation follows
// Kubernetes: keys are qualified names ([prefix/]name), values are label
// values, In/NotIn need values, Exists/DoesNotExist take none, no other
// operator. Unlike the reference, whose JSON decoding ignores unknown
// fields, an unknown key anywhere is an error, as for every plugin here.
#include <algorithm>

#include <fmt/format.h>

#include "picker/builtin_plugins.hpp"

namespace infergate::picker {

bool LabelSelectorFilter::matches(const std::map<std::string, std::string>& labels) const {
    using Op = LabelRequirement::Op;
    for (const LabelRequirement& r : reqs_) {
        const auto it = labels.find(r.key);
        const bool has = it != labels.end();
        const bool listed =
            has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
        bool ok = false;
        switch (r.op) {
            case Op::in: ok = listed; break;
            case Op::not_in: ok = !listed; break;
            case Op::exists: ok = has; break;
            case Op::does_not_exist: ok = !has; break;
        }
        if (!ok) return false;
    }
    return true;
}

// Keeps order; compacts in place.
size_t LabelSelectorFilter::filter(const SchedulingRequest&, std::span<EndpointState*> candidates) const {
    size_t kept = 0;
    for (EndpointState* ep : candidates)
        if (matches(ep->config().labels)) candidates[kept++] = ep;
    return kept;
}

namespace {

bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// Kubernetes' qualifiedNameFmt part, also the label value format:
// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63 characters.
bool name_part(std::string_view s) {
    if (s.empty() || s.size() > 63 || !alnum(s.front()) || !alnum(s.back())) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// A DNS-1123 subdomain: dot-separated lowercase labels, at most 253 characters.
bool dns_subdomain(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    size_t start = 0;
    for (;;) {
        const size_t dot = s.find('.', start);
        const std::string_view label = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
        auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
        if (label.empty() || !lower_alnum(label.front()) || !lower_alnum(label.back())) return false;
        if (!std::all_of(label.begin(), label.end(), [&](char c) { return lower_alnum(c) || c == '-'; }))
            return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

// validation.IsQualifiedName: name, or prefix/name.
bool label_key(std::string_view k) {
    const size_t slash = k.find('/');
    if (slash == std::string_view::npos) return name_part(k);
    if (k.find('/', slash + 1) != std::string_view::npos) return false;
    return dns_subdomain(k.substr(0, slash)) && name_part(k.substr(slash + 1));
}

// validation.IsValidLabelValue: empty, or a name part.
bool label_value(std::string_view v) { return v.empty() || name_part(v); }

struct SelectorReader {
    ParamReader& params;
    std::string_view type;
    std::string name;
    std::vector<LabelRequirement> reqs;

    void error(const config::Mark& m, const std::string& msg) {
        params.error(m, fmt::format("plugin '{}' ({}): {}", name, type, msg));
    }

    bool key_ok(const std::string& k, const config::Mark& m, std::string_view where) {
        if (label_key(k)) return true;
        error(m, fmt::format("{} key '{}' is not a valid label key ([prefix/]name: name up to 63 of "
                             "A-Z a-z 0-9 - _ . starting and ending alphanumeric; prefix a DNS subdomain)",
                             where, k));
        return false;
    }

    bool value_ok(const std::string& v, const config::Mark& m, std::string_view where) {
        if (label_value(v)) return true;
        error(m, fmt::format("{} value '{}' is not a valid label value (empty, or up to 63 of "
                             "A-Z a-z 0-9 - _ . starting and ending alphanumeric)", where, v));
        return false;
    }

    // A scalar as text; null reads as "" (JSON null into a Go string).
    bool text(const config::Node& n, std::string& out) {
        if (n.kind == config::Node::Kind::null) {
            out.clear();
            return true;
        }
        if (n.kind != config::Node::Kind::scalar) return false;
        out = n.scalar;
        return true;
    }

    void match_labels(const config::Node* n) {
        if (!n || n->kind == config::Node::Kind::null) return;
        if (n->kind != config::Node::Kind::map) {
            params.error(n->mark, params.where("matchLabels") + " must be a map of label to value");
            return;
        }
        for (size_t i = 0; i < n->entries.size(); ++i) {
            const auto& [k, v] = n->entries[i];
            const config::Mark& km = i < n->key_marks.size() ? n->key_marks[i] : v.mark;
            LabelRequirement r{k, LabelRequirement::Op::in, {std::string()}};
            if (!text(v, r.values[0])) {
                params.error(v.mark, params.where("matchLabels") + fmt::format(": the value of '{}' must be a string", k));
                continue;
            }
            if (key_ok(k, km, "matchLabels") && value_ok(r.values[0], v.mark, "matchLabels"))
                reqs.push_back(std::move(r));
        }
    }

    void expression(const config::Node& e, size_t idx) {
        const std::string at = fmt::format("matchExpressions[{}]", idx);
        if (e.kind != config::Node::Kind::map) {
            error(e.mark, at + " must be a map with 'key', 'operator' and optionally 'values'");
            return;
        }
        const config::Node *key = nullptr, *op = nullptr, *values = nullptr;
        for (size_t i = 0; i < e.entries.size(); ++i) {
            const auto& [k, v] = e.entries[i];
            const config::Mark& km = i < e.key_marks.size() ? e.key_marks[i] : v.mark;
            if (k == "key") key = &v;
            else if (k == "operator") op = &v;
            else if (k == "values") values = &v;
            else error(km, fmt::format("unknown key '{}' in {} (expected 'key', 'operator', 'values')", k, at));
        }
        LabelRequirement r;
        if (!key || key->kind != config::Node::Kind::scalar) {
            error(key ? key->mark : e.mark, at + " needs a 'key' (a label name)");
            return;
        }
        r.key = key->scalar;
        if (!key_ok(r.key, key->mark, at)) return;
        using Op = LabelRequirement::Op;
        const std::string ops = op && op->kind == config::Node::Kind::scalar ? op->scalar : "";
        if (ops == "In") r.op = Op::in;
        else if (ops == "NotIn") r.op = Op::not_in;
        else if (ops == "Exists") r.op = Op::exists;
        else if (ops == "DoesNotExist") r.op = Op::does_not_exist;
        else {
            error(op ? op->mark : e.mark,
                  fmt::format("{} operator must be In, NotIn, Exists or DoesNotExist, got '{}'", at, ops));
            return;
        }
        if (values && values->kind == config::Node::Kind::sequence) {
            for (const config::Node& v : values->items) {
                std::string s;
                if (!text(v, s)) {
                    error(v.mark, at + " values must be a list of strings");
                    return;
                }
                if (!value_ok(s, v.mark, at)) return;
                r.values.push_back(std::move(s));
            }
        } else if (values && values->kind != config::Node::Kind::null) {
            error(values->mark, at + " values must be a list of strings");
            return;
        }
        const bool set_op = r.op == Op::in || r.op == Op::not_in;
        if (set_op && r.values.empty()) {
            error(values ? values->mark : e.mark, fmt::format("{} operator {} needs at least one value", at, ops));
            return;
        }
        if (!set_op && !r.values.empty()) {
            error(values->mark, fmt::format("{} operator {} takes no values", at, ops));
            return;
        }
        reqs.push_back(std::move(r));
    }

    void match_expressions(const config::Node* n) {
        if (!n || n->kind == config::Node::Kind::null) return;
        if (n->kind != config::Node::Kind::sequence) {
            params.error(n->mark, params.where("matchExpressions") + " must be a list");
            return;
        }
        for (size_t i = 0; i < n->items.size(); ++i) expression(n->items[i], i);
    }
};

std::unique_ptr<Plugin> make_selector(std::string_view type, const config::PluginSpec& spec, ParamReader& params) {
    SelectorReader r{params, type, plugin_name(spec), {}};
    r.match_labels(params.raw("matchLabels"));
    r.match_expressions(params.raw("matchExpressions"));
    if (!params.ok()) return nullptr;
    return std::make_unique<LabelSelectorFilter>(type, plugin_name(spec), std::move(r.reqs));
}

}  // namespace

std::unique_ptr<Plugin> make_label_selector_filter(const config::PluginSpec& spec, ParamReader& params) {
    return make_selector("label-selector-filter", spec, params);
}

// The reference registers the old name as deprecated (runner.go) and keeps
// it as the plugin's type; so do we.
std::unique_ptr<Plugin> make_by_label_selector_filter(const config::PluginSpec& spec, ParamReader& params) {
    return make_selector("by-label-selector", spec, params);
}

}  // namespace infergate::picker
