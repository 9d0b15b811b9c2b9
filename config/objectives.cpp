// objectives (InferenceObjective, flattened) and the signed priority they
// and routes carry; the cross-checks between objectives, routes and pools.
#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <limits>

#include "config/validate.hpp"
#include "config/values.hpp"

namespace infergate::config {

std::optional<int32_t> read_priority(Diag& d, const Node& n, const std::string& path) {
    constexpr int64_t lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
    int64_t v = 0;
    bool ok = false;
    if (n.kind == Node::Kind::scalar && !n.quoted && !n.scalar.empty()) {
        const char* b = n.scalar.data();
        const char* e = b + n.scalar.size();
        auto [p, ec] = std::from_chars(b, e, v);
        ok = ec == std::errc() && p == e;
    }
    if (!ok || v < lo || v > hi) {
        d.error(n.mark, fmt::format("{} must be an integer from {} to {} (negative: sheddable), got {}", path, lo, hi,
                                    describe(n)));
        return std::nullopt;
    }
    return static_cast<int32_t>(v);
}

void read_objectives(Diag& d, const Node& list, const std::string& path, std::vector<Objective>& out) {
    if (!expect_list(d, list, path)) return;
    SeenNames seen;
    for (size_t i = 0; i < list.items.size(); ++i) {
        MapReader r(d, list.items[i], index_path(path, i));
        Objective o;
        o.mark = list.items[i].mark;
        if (const Node* n = r.require("name")) {
            // Header values are compared as sent: names are identifiers.
            if (auto v = read_name(d, *n, r.path("name"))) {
                check_unique(d, seen, *v, n->mark, r.path("name"), "objective name");
                o.name = *v;
            }
        }
        if (const Node* n = r.get("priority"))
            if (auto v = read_priority(d, *n, r.path("priority"))) o.priority = *v;
        if (const Node* n = r.get("pool"))
            if (auto v = read_name(d, *n, r.path("pool"))) o.pool = *v;
        r.finish();
        out.push_back(std::move(o));
    }
}

void check_objectives(Diag& d, const Node& root, Config& c) {
    std::vector<std::string> pool_names;
    for (const auto& p : c.pools) pool_names.push_back(p.name);
    if (const Node* list = root.find("objectives"); list && list->kind == Node::Kind::sequence) {
        for (size_t i = 0; i < c.objectives.size() && i < list->items.size(); ++i) {
            const Objective& o = c.objectives[i];
            if (!o.pool || c.find_pool(*o.pool)) continue;
            const Node* pn = list->items[i].find("pool");
            std::string msg = fmt::format("objectives[{}].pool: no pool named '{}'", i, *o.pool);
            if (auto near = nearest(*o.pool, pool_names); !near.empty()) msg += fmt::format("; did you mean '{}'?", near);
            d.error(pn ? pn->mark : o.mark, std::move(msg));
        }
    }
    const Node* routes = root.find("routes");
    if (!routes || routes->kind != Node::Kind::sequence) return;
    std::vector<std::string> objective_names;
    for (const auto& o : c.objectives) objective_names.push_back(o.name);
    for (size_t i = 0; i < c.routes.size() && i < routes->items.size(); ++i) {
        Route& route = c.routes[i];
        if (!route.objective) continue;
        const Node* on = routes->items[i].find("objective");
        const Mark& mark = on ? on->mark : route.mark;
        const Objective* o = c.find_objective(*route.objective);
        if (!o) {
            std::string msg = fmt::format("routes[{}].objective: no objective named '{}'", i, *route.objective);
            if (auto near = nearest(*route.objective, objective_names); !near.empty())
                msg += fmt::format("; did you mean '{}'?", near);
            else if (objective_names.empty())
                msg += " (the top-level objectives list is empty)";
            d.error(mark, std::move(msg));
            continue;
        }
        // An objective bound to one pool would silently not apply to the
        // route's other pools: refuse that at load rather than guess.
        if (o->pool) {
            for (const Backend& b : route.backends) {
                if (b.pool != *o->pool) {
                    d.error(mark, fmt::format("routes[{}].objective: objective '{}' applies to pool '{}' only, "
                                              "but the route also sends to pool '{}'",
                                              i, o->name, *o->pool, b.pool));
                    break;
                }
            }
        }
        route.priority = o->priority;
    }
}

}  // namespace infergate::config
