#include "proxy/runtime.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "proxy/http_codec.hpp"
#include "proxy/openai_body.hpp"

namespace infergate::proxy {

static bool path_matches(const config::RouteMatch& m, std::string_view path) {
    if (m.path_kind == config::RouteMatch::PathKind::exact) return path == m.path;
    return path.substr(0, m.path.size()) == m.path;
}

const RuntimeRoute* Runtime::match(std::string_view path, const MessageHead& head,
                                   const std::string* model) const {
    for (const RuntimeRoute& r : routes) {
        const config::RouteMatch& m = r.cfg->match;
        if (!path_matches(m, path)) continue;
        bool ok = true;
        for (const config::HeaderMatch& h : m.headers) {
            auto v = head.find(h.name);
            if (!v || *v != h.value) {
                ok = false;
                break;
            }
        }
        if (!ok) continue;
        if (m.model && (!model || *model != *m.model)) continue;
        return &r;
    }
    return nullptr;
}

const RuntimeBackend& choose_backend(const RuntimeRoute& route, uint32_t random) {
    uint32_t x = route.total_weight ? random % route.total_weight : 0;
    for (const RuntimeBackend& b : route.backends) {
        if (x < b.weight) return b;
        x -= b.weight;
    }
    return route.backends.front();  // unreachable: total_weight > 0 (validated)
}

static std::string models_json(const config::Config& cfg) {
    // The models the routes serve: explicit route models and rewrites,
    std::set<std::string> names;
    for (const config::Route& r : cfg.routes) {
        if (r.match.model) names.insert(*r.match.model);
        for (const config::Backend& b : r.backends)
            if (b.model_rewrite) names.insert(*b.model_rewrite);
    }
    // and the names model_rewrites rules accept (their targets are the
    // pools' internal names, like a backend's model_rewrite).
    for (const config::ModelRewrite& mr : cfg.model_rewrites)
        for (const config::RewriteRule& rule : mr.rules) names.insert(rule.models.begin(), rule.models.end());
    std::string out = R"({"object":"list","data":[)";
    bool first = true;
    for (const std::string& n : names) {
        if (!first) out += ',';
        first = false;
        out += fmt::format(R"({{"id":{},"object":"model","owned_by":"infergate"}})", json_quote(n));
    }
    out += "]}";
    return out;
}

RuntimeBuild build_runtime(std::shared_ptr<const config::Config> cfg, EndpointRegistry& registry,
                           uint64_t generation) {
    RuntimeBuild out;
    auto rt = std::make_shared<Runtime>();
    rt->config = cfg;
    rt->generation = generation;
    EndpointRegistry next;
    for (const config::Pool& p : cfg->pools) {
        picker::BuildResult b = picker::build_scheduler(p.scheduler);
        for (auto& e : b.errors) out.errors.push_back(std::move(e));
        for (auto& w : b.warnings) out.warnings.push_back(std::move(w));
        std::vector<std::shared_ptr<picker::EndpointState>> eps;
        for (const config::Endpoint& e : p.endpoints) {
            std::string key = p.name + '\0' + e.address.to_string();
            auto it = registry.find(key);
            std::shared_ptr<picker::EndpointState> st;
            if (it != registry.end() && it->second->config().labels == e.labels)
                st = it->second;
            else
                st = std::make_shared<picker::EndpointState>(p.name, e);
            next[key] = st;
            eps.push_back(std::move(st));
        }
        if (b.scheduler) {
            rt->pools.push_back({&p, std::make_unique<picker::PoolPicker>(
                                         p.name, std::move(eps), b.scheduler,
                                         p.metrics_staleness, p.failure_mode),
                                     ModelRewriteTable(*cfg, p.name)});
        }
    }
    if (!out.errors.empty()) return out;
    for (const config::Route& r : cfg->routes) {
        RuntimeRoute rr{&r, {}, 0};
        for (const config::Backend& b : r.backends) {
            size_t idx = 0;
            while (idx < cfg->pools.size() && cfg->pools[idx].name != b.pool) ++idx;
            if (idx == cfg->pools.size()) {
                out.errors.push_back({r.mark, fmt::format("route '{}' names unknown pool '{}'", r.name, b.pool)});
                continue;
            }
            rr.backends.push_back({idx, b.weight, &b.model_rewrite});
            rr.total_weight += b.weight;
        }
        rt->routes.push_back(std::move(rr));
    }
    if (!out.errors.empty()) return out;
    rt->models_json = models_json(*cfg);
    registry = std::move(next);
    out.runtime = std::move(rt);
    return out;
}

}  // namespace infergate::proxy
