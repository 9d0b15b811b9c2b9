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

int Runtime::priority(const RuntimeRoute& route, size_t pool, const MessageHead& head) const {
    std::optional<std::string_view> name = head.find(kObjectiveHeader);
    if (!name || name->empty()) name = head.find(kObjectiveHeaderOld);
    if (name && !name->empty()) {
        auto it = std::lower_bound(objectives.begin(), objectives.end(), *name,
                                   [](const RuntimeObjective& o, std::string_view n) { return o.name < n; });
        if (it != objectives.end() && it->name == *name &&
            (it->pool == RuntimeObjective::kAnyPool || it->pool == pool))
            return it->priority;
    }
    return route.cfg->priority;
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
                           uint64_t generation, const Runtime* previous) {
    RuntimeBuild out;
    auto rt = std::make_shared<Runtime>();
    rt->config = cfg;
    rt->generation = generation;
    EndpointRegistry next;
    for (const config::Pool& p : cfg->pools) {
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
        // Built after the endpoint states: a prefix index carried over from
        // the previous configuration keeps only this pool's endpoints.
        std::vector<uint32_t> uids;
        for (const auto& ep : eps) uids.push_back(ep->uid());
        const picker::PoolContext ctx{p.name, uids, generation};
        picker::BuildResult b = picker::build_scheduler(p.scheduler, &ctx);
        for (auto& e : b.errors) out.errors.push_back(std::move(e));
        for (auto& w : b.warnings) out.warnings.push_back(std::move(w));
        std::shared_ptr<const tls::ClientTls> ctls;
        if (p.tls && previous)
            for (const RuntimePool& old : previous->pools)
                if (old.cfg->name == p.name && old.tls && old.tls->same_as(*p.tls)) ctls = old.tls;
        if (p.tls && !ctls) {
            std::string err;
            config::Mark where;
            ctls = tls::ClientTls::build(*p.tls, err, where);
            if (!ctls) out.errors.push_back({where, fmt::format("pool '{}': {}", p.name, err)});
        }
        if (ctls && p.tls->insecure_skip_verify)
            out.warnings.push_back({p.tls->mark, fmt::format("pool '{}': tls.insecure_skip_verify is true: "
                                                             "the endpoints' certificates are not verified",
                                                             p.name)});
        if (b.scheduler) {
            rt->pools.push_back({&p, std::make_unique<picker::PoolPicker>(
                                         p.name, std::move(eps), b.scheduler,
                                         p.metrics_staleness, p.failure_mode),
                                     ModelRewriteTable(*cfg, p.name), std::move(ctls)});
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
    for (const config::Objective& o : cfg->objectives) {
        size_t pool = RuntimeObjective::kAnyPool;
        if (o.pool)
            for (size_t i = 0; i < cfg->pools.size(); ++i)
                if (cfg->pools[i].name == *o.pool) pool = i;
        rt->objectives.push_back({o.name, o.priority, pool});
    }
    std::sort(rt->objectives.begin(), rt->objectives.end(),
              [](const RuntimeObjective& a, const RuntimeObjective& b) { return a.name < b.name; });
    rt->models_json = models_json(*cfg);
    for (const config::Listener& l : cfg->listeners)
        if (l.tls && !l.tls->client_ca_file.empty() &&
            std::find(rt->client_subject_headers.begin(), rt->client_subject_headers.end(),
                      l.tls->client_subject_header) == rt->client_subject_headers.end())
            rt->client_subject_headers.push_back(l.tls->client_subject_header);
    rt->model_labels = model_labels_for(*cfg);
    registry = std::move(next);
    out.runtime = std::move(rt);
    return out;
}

}  // namespace infergate::proxy
