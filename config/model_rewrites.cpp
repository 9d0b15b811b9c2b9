// model_rewrites: weighted model rewrite rules per pool, in the shape of the
// Gateway API Inference Extension's InferenceModelRewrite (reference:
// llm-d-router apix/v1alpha2/inferencemodelrewrite_types.go for the fields,
// pkg/epp/datastore/modelrewritestore.go for precedence).
//
// Where infergate is stricter than the reference, and why:
// - Two rules of one pool matching the same model (or two generic rules) are
//   an error. The reference resolves such ties by the resources' creation
//   time, then list order; a config file has no creation time, and the
//   losing rule would silently never fire.
// - `targets` is required and non-empty. The reference accepts a rule
//   without targets and then answers its requests with 400.
// - Weights set on some targets but not others are an error, as the CRD's
//   documentation says ("it must be set for all"); the reference's runtime
//   instead never picks the unweighted ones.
#include <fmt/format.h>

#include <limits>
#include <map>

#include "config/validate.hpp"
#include "config/values.hpp"

namespace infergate::config {
namespace {

// What one pool's rules have claimed so far, across every model_rewrites
// entry naming it.
struct PoolClaims {
    SeenNames models;
    std::optional<Mark> generic;
};

// `model: NAME` (infergate's shorthand) or the CRD's `model: {type: Exact, value: NAME}`.
std::optional<std::string> read_model_match(Diag& d, const Node& n, const std::string& path) {
    if (n.kind != Node::Kind::map) return read_string(d, n, path);
    MapReader r(d, n, path);
    std::optional<std::string> value;
    if (const Node* t = r.get("type")) {
        auto s = read_string(d, *t, r.path("type"));
        if (s && *s != "Exact") d.error(t->mark, fmt::format("{} must be 'Exact', got '{}'", r.path("type"), *s));
    }
    if (const Node* v = r.require("value")) value = read_string(d, *v, r.path("value"));
    r.finish();
    return value;
}

void read_matches(Diag& d, const Node& list, const std::string& path, const std::string& pool, PoolClaims& claims,
                  std::vector<std::string>& out) {
    if (!expect_list(d, list, path)) return;
    for (size_t i = 0; i < list.items.size(); ++i) {
        MapReader r(d, list.items[i], index_path(path, i));
        if (const Node* n = r.require("model")) {
            if (auto m = read_model_match(d, *n, r.path("model"))) {
                const Node* at = n->kind == Node::Kind::map ? n->find("value") : n;
                check_unique(d, claims.models, *m, at->mark, r.path("model"),
                             fmt::format("match in pool '{}' for model", pool));
                out.push_back(*m);
            }
        }
        r.finish();
    }
}

void read_targets(Diag& d, const Node& list, const std::string& path, std::vector<RewriteTarget>& out) {
    if (!expect_list(d, list, path)) return;
    if (list.items.empty()) {
        d.error(list.mark, fmt::format("{} must hold at least one target", path));
        return;
    }
    SeenNames seen;
    const Node* first_weighted = nullptr;
    const Node* first_unweighted = nullptr;
    uint64_t total = 0;
    for (size_t i = 0; i < list.items.size(); ++i) {
        MapReader r(d, list.items[i], index_path(path, i));
        RewriteTarget t;
        t.mark = list.items[i].mark;
        if (const Node* n = r.require("modelRewrite")) {
            if (auto v = read_string(d, *n, r.path("modelRewrite"))) {
                check_unique(d, seen, *v, n->mark, r.path("modelRewrite"), "target model");
                t.model_rewrite = *v;
            }
        }
        // The CRD's bounds: Minimum=1, Maximum=1000000.
        if (const Node* n = r.get("weight")) {
            if (!first_weighted) first_weighted = &list.items[i];
            if (auto v = read_uint(d, *n, r.path("weight"), 1, 1000000)) t.weight = static_cast<uint32_t>(*v);
        } else if (r.ok() && !first_unweighted) {
            first_unweighted = &list.items[i];
        }
        total += t.weight;
        r.finish();
        out.push_back(std::move(t));
    }
    if (first_weighted && first_unweighted)
        d.error(first_unweighted->mark,
                fmt::format("{}: set 'weight' on every target of a rule or on none (first weighted target at line "
                            "{}, column {})",
                            path, first_weighted->mark.line, first_weighted->mark.col));
    // A draw is one 31-bit random number modulo the total (proxy/model_rewrite.cpp).
    if (total > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
        d.error(list.mark, fmt::format("{}: the weights sum to {}, more than {}", path, total,
                                       std::numeric_limits<int32_t>::max()));
}

void read_rules(Diag& d, const Node& list, const std::string& path, const std::string& pool, PoolClaims& claims,
                std::vector<RewriteRule>& out) {
    if (!expect_list(d, list, path)) return;
    if (list.items.empty()) d.error(list.mark, fmt::format("{} must hold at least one rule", path));
    for (size_t i = 0; i < list.items.size(); ++i) {
        MapReader r(d, list.items[i], index_path(path, i));
        RewriteRule rule;
        rule.mark = list.items[i].mark;
        const Node* matches = r.get("matches");
        if (matches) read_matches(d, *matches, r.path("matches"), pool, claims, rule.models);
        // Absent or `[]`: the rule matches every model.
        bool generic = r.ok() && (!matches || (matches->kind == Node::Kind::sequence && matches->items.empty()));
        if (generic) {
            if (claims.generic)
                d.error(rule.mark, fmt::format("{}: pool '{}' already has a rule matching every model (first at line "
                                               "{}, column {})",
                                               r.path(), pool, claims.generic->line, claims.generic->col));
            else
                claims.generic = rule.mark;
        }
        if (const Node* n = r.require("targets")) read_targets(d, *n, r.path("targets"), rule.targets);
        r.finish();
        out.push_back(std::move(rule));
    }
}

}  // namespace

void read_model_rewrites(Diag& d, const Node& list, const std::string& path, const std::vector<Pool>& pools,
                         std::vector<ModelRewrite>& out) {
    if (!expect_list(d, list, path)) return;
    std::vector<std::string> pool_names;
    for (const Pool& p : pools) pool_names.push_back(p.name);
    SeenNames seen;
    std::map<std::string, PoolClaims> claims;
    for (size_t i = 0; i < list.items.size(); ++i) {
        MapReader r(d, list.items[i], index_path(path, i));
        ModelRewrite mr;
        mr.mark = list.items[i].mark;
        if (const Node* n = r.require("name")) {
            if (auto v = read_name(d, *n, r.path("name"))) {
                check_unique(d, seen, *v, n->mark, r.path("name"), "model rewrite name");
                mr.name = *v;
            }
        }
        if (const Node* n = r.require("pool")) {
            if (auto v = read_name(d, *n, r.path("pool"))) {
                mr.pool = *v;
                bool known = false;
                for (const Pool& p : pools) known = known || p.name == *v;
                if (!known) {
                    std::string msg = fmt::format("{}: no pool named '{}'", r.path("pool"), *v);
                    std::string near = nearest(*v, pool_names);
                    if (!near.empty()) msg += fmt::format("; did you mean '{}'?", near);
                    d.error(n->mark, std::move(msg));
                }
            }
        }
        if (const Node* n = r.require("rules")) read_rules(d, *n, r.path("rules"), mr.pool, claims[mr.pool], mr.rules);
        r.finish();
        out.push_back(std::move(mr));
    }
}

}  // namespace infergate::config
