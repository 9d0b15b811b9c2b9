// pools: endpoints, engine, metrics scraping, failure mode, scheduler.
#include <fmt/format.h>

#include "config/validate.hpp"

namespace infergate::config {
namespace {

void read_labels(Diag& d, const Node& n, const std::string& path, std::map<std::string, std::string>& out) {
    MapReader r(d, n, path);
    if (!r.ok()) return;
    // Label keys are free-form, so no unknown-key check (finish() not called).
    for (const auto& [key, value] : n.entries) {
        if (key.empty()) d.error(n.mark, fmt::format("{}: label names must not be empty", path));
        if (auto v = read_string(d, value, child_path(path, key), true)) out[key] = *v;
    }
}

void read_endpoints(Diag& d, const Node& list, const std::string& path, std::vector<Endpoint>& out) {
    if (!expect_list(d, list, path)) return;
    if (list.items.empty()) d.error(list.mark, fmt::format("{} must hold at least one endpoint", path));
    SeenNames seen;
    for (size_t i = 0; i < list.items.size(); ++i) {
        MapReader r(d, list.items[i], index_path(path, i));
        Endpoint e;
        if (const Node* n = r.require("address")) {
            if (auto a = read_address(d, *n, r.path("address"), false)) {
                check_unique(d, seen, a->to_string(), n->mark, r.path("address"), "endpoint address");
                e.address = *a;
            }
        }
        if (const Node* n = r.get("labels")) read_labels(d, *n, r.path("labels"), e.labels);
        r.finish();
        out.push_back(std::move(e));
    }
}

template <typename E>
std::optional<E> read_enum(Diag& d, const Node& n, const std::string& path,
                           std::initializer_list<std::pair<std::string_view, E>> values) {
    auto s = read_string(d, n, path);
    if (!s) return std::nullopt;
    std::string allowed;
    for (const auto& [name, value] : values) {
        if (name == *s) return value;
        allowed += allowed.empty() ? fmt::format("'{}'", name) : fmt::format(" or '{}'", name);
    }
    d.error(n.mark, fmt::format("{} must be {}, got '{}'", path, allowed, *s));
    return std::nullopt;
}

Pool read_pool(Diag& d, const Node& item, const std::string& path, const std::string& base_dir, SeenNames& seen) {
    MapReader r(d, item, path);
    Pool p;
    p.mark = item.mark;
    if (const Node* n = r.require("name")) {
        if (auto v = read_name(d, *n, r.path("name"))) {
            check_unique(d, seen, *v, n->mark, r.path("name"), "pool name");
            p.name = *v;
        }
    }
    if (const Node* n = r.require("endpoints")) read_endpoints(d, *n, r.path("endpoints"), p.endpoints);
    if (const Node* n = r.get("engine"))
        if (auto e = read_enum<Engine>(d, *n, r.path("engine"), {{"vllm", Engine::vllm}, {"sglang", Engine::sglang}}))
            p.engine = *e;
    if (const Node* n = r.get("metrics_path")) {
        if (auto v = read_string(d, *n, r.path("metrics_path"))) {
            if (v->front() != '/') d.error(n->mark, fmt::format("{} '{}' must start with '/'", r.path("metrics_path"), *v));
            p.metrics_path = *v;
        }
    }
    const Node* interval = r.get("scrape_interval");
    const Node* staleness = r.get("metrics_staleness");
    bool times_ok = true;
    auto dur = [&](const Node* n, const char* key, Duration& out) {
        if (!n) return;
        if (auto v = read_duration(d, *n, r.path(key), Duration{1})) out = *v;
        else times_ok = false;
    };
    dur(interval, "scrape_interval", p.scrape_interval);
    dur(staleness, "metrics_staleness", p.metrics_staleness);
    // Metrics older than one scrape interval would always count as stale.
    if (times_ok && p.metrics_staleness < p.scrape_interval)
        d.error(staleness ? staleness->mark : interval->mark,
                fmt::format("{}: metrics_staleness ({}ms) must be at least scrape_interval ({}ms)", path,
                            p.metrics_staleness.count(), p.scrape_interval.count()));
    if (const Node* n = r.get("failure_mode"))
        if (auto e = read_enum<FailureMode>(d, *n, r.path("failure_mode"),
                                            {{"fail_open", FailureMode::fail_open}, {"fail_close", FailureMode::fail_close}}))
            p.failure_mode = *e;
    if (const Node* n = r.get("scheduler"))
        read_scheduler(d, *n, r.path("scheduler"), base_dir, item.mark.file, p.scheduler);
    if (const Node* n = r.get("ignore_unsupported_plugins"))
        if (auto v = read_bool(d, *n, r.path("ignore_unsupported_plugins"))) p.scheduler.ignore_unsupported = *v;
    if (const Node* n = r.get("tls")) read_upstream_tls(d, *n, r.path("tls"), base_dir, p.tls.emplace());
    r.finish();
    return p;
}

}  // namespace

void read_pools(Diag& d, const Node& list, const std::string& path, const std::string& base_dir,
                std::vector<Pool>& out) {
    if (!expect_list(d, list, path)) return;
    SeenNames seen;
    for (size_t i = 0; i < list.items.size(); ++i)
        out.push_back(read_pool(d, list.items[i], index_path(path, i), base_dir, seen));
}

}  // namespace infergate::config
