// Top-level sections: workers, listeners, admin, access_log,
// trusted_proxies, limits, timeouts, routes, pools, model_rewrites; then
// cross-references.
#include "config/validate.hpp"

#include <fmt/format.h>

#include <limits>

#include "config/values.hpp"

namespace infergate::config {
namespace {

void read_listeners(Diag& d, const Node& list, const std::string& path, const std::string& base_dir,
                    std::vector<Listener>& out) {
    if (!expect_list(d, list, path)) return;
    if (list.items.empty()) d.error(list.mark, fmt::format("{} must hold at least one listener", path));
    SeenNames seen;
    for (size_t i = 0; i < list.items.size(); ++i) {
        MapReader r(d, list.items[i], index_path(path, i));
        Listener l;
        l.mark = list.items[i].mark;
        if (const Node* n = r.require("name")) {
            if (auto v = read_name(d, *n, r.path("name"))) {
                check_unique(d, seen, *v, n->mark, r.path("name"), "listener name");
                l.name = *v;
            }
        }
        if (const Node* n = r.require("address"))
            if (auto a = read_address(d, *n, r.path("address"), true)) l.address = *a;
        if (const Node* n = r.get("tls")) read_listener_tls(d, *n, r.path("tls"), base_dir, l.tls.emplace());
        r.finish();
        out.push_back(std::move(l));
    }
}

void read_limits(Diag& d, const Node& n, Limits& out) {
    MapReader r(d, n, "limits");
    constexpr uint64_t u32 = std::numeric_limits<uint32_t>::max();
    auto u = [&](uint64_t max) {
        return [&d, max](const Node& v, const std::string& p) { return read_uint(d, v, p, 1, max); };
    };
    read_opt(r, "max_header_bytes", out.max_header_bytes, u(u32));
    read_opt(r, "max_headers", out.max_headers, u(u32));
    read_opt(r, "max_uri_bytes", out.max_uri_bytes, u(u32));
    read_opt(r, "max_body_bytes", out.max_body_bytes, u(std::numeric_limits<int64_t>::max()));
    read_opt(r, "max_connections_per_worker", out.max_connections_per_worker, u(u32));
    read_opt(r, "max_upstream_requests", out.max_upstream_requests, u(u32));
    r.finish();
}

void read_timeouts(Diag& d, const Node& n, Timeouts& out) {
    MapReader r(d, n, "timeouts");
    auto dur = [&d](Duration min) {
        return [&d, min](const Node& v, const std::string& p) { return read_duration(d, v, p, min); };
    };
    const Duration one{1};
    read_opt(r, "header_read", out.header_read, dur(one));
    read_opt(r, "body_read", out.body_read, dur(one));
    read_opt(r, "keepalive_idle", out.keepalive_idle, dur(one));
    read_opt(r, "upstream_connect", out.upstream_connect, dur(one));
    read_opt(r, "upstream_response_header", out.upstream_response_header, dur(one));
    read_opt(r, "stream_idle", out.stream_idle, dur(one));
    read_opt(r, "upstream_keepalive_idle", out.upstream_keepalive_idle, dur(one));
    read_opt(r, "drain", out.drain, dur(Duration{0}));  // 0: stop without waiting
    r.finish();
}

void read_trusted_proxies(Diag& d, const Node& list, std::vector<Cidr>& out) {
    if (!expect_list(d, list, "trusted_proxies")) return;
    for (size_t i = 0; i < list.items.size(); ++i) {
        std::string p = index_path("trusted_proxies", i);
        auto s = read_string(d, list.items[i], p);
        if (!s) continue;
        std::string why;
        if (auto c = parse_cidr(*s, why)) out.push_back(*c);
        else d.error(list.items[i].mark, fmt::format("{}: {}", p, why));
    }
}

// Cross-section checks that need every section read first.
void check_references(Diag& d, const Node& root, Config& c) {
    const Node* routes = root.find("routes");
    const Node* pools = root.find("pools");
    if (!c.routes.empty() && (!pools || (pools->kind == Node::Kind::sequence && pools->items.empty()))) {
        d.error(pools ? pools->mark : routes->mark, "routes are defined but the pools list is empty");
        return;
    }
    if (!routes || routes->kind != Node::Kind::sequence) return;
    std::vector<std::string> names;
    for (const auto& p : c.pools) names.push_back(p.name);
    for (size_t i = 0; i < c.routes.size() && i < routes->items.size(); ++i) {
        const Node* backends = routes->items[i].find("backends");
        if (!backends || backends->kind != Node::Kind::sequence) continue;
        for (size_t j = 0; j < c.routes[i].backends.size() && j < backends->items.size(); ++j) {
            const std::string& pool = c.routes[i].backends[j].pool;
            if (pool.empty() || c.find_pool(pool)) continue;
            const Node* pn = backends->items[j].find("pool");
            std::string msg = fmt::format("routes[{}].backends[{}].pool: no pool named '{}'", i, j, pool);
            std::string near = nearest(pool, names);
            if (!near.empty()) msg += fmt::format("; did you mean '{}'?", near);
            d.error(pn ? pn->mark : backends->items[j].mark, std::move(msg));
        }
    }
}

}  // namespace

void read_config(Diag& d, const Node& root, const std::string& base_dir, Config& c) {
    if (root.kind == Node::Kind::null) {
        d.error(root.mark, "the config is empty");
        return;
    }
    MapReader r(d, root, "");
    if (!r.ok()) return;
    read_opt(r, "workers", c.workers, [&d](const Node& n, const std::string& p) { return read_uint(d, n, p, 0, 1024); });
    if (const Node* n = r.require("listeners")) read_listeners(d, *n, "listeners", base_dir, c.listeners);
    // Without an admin section the admin listener uses Envoy's habit: loopback 9901.
    c.admin.address = Address{"127.0.0.1", 9901};
    if (const Node* n = r.get("admin")) {
        MapReader a(d, *n, "admin");
        if (const Node* v = a.require("address"))
            if (auto addr = read_address(d, *v, a.path("address"), true)) c.admin.address = *addr;
        a.finish();
    }
    if (const Node* n = r.get("access_log")) {
        MapReader a(d, *n, "access_log");
        read_opt(a, "path", c.access_log.path, [&d](const Node& v, const std::string& p) { return read_string(d, v, p); });
        a.finish();
    }
    if (const Node* n = r.get("trusted_proxies")) read_trusted_proxies(d, *n, c.trusted_proxies);
    if (const Node* n = r.get("limits")) read_limits(d, *n, c.limits);
    if (const Node* n = r.get("timeouts")) read_timeouts(d, *n, c.timeouts);
    if (const Node* n = r.get("routes")) read_routes(d, *n, "routes", c.routes);
    if (const Node* n = r.get("pools")) read_pools(d, *n, "pools", base_dir, c.pools);
    if (const Node* n = r.get("model_rewrites")) read_model_rewrites(d, *n, "model_rewrites", c.pools, c.model_rewrites);
    if (const Node* n = r.get("objectives")) read_objectives(d, *n, "objectives", c.objectives);
    r.finish();
    check_references(d, root, c);
    check_objectives(d, root, c);
}

}  // namespace infergate::config
