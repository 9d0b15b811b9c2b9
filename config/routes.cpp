// routes: match (path, headers, model) and weighted backends.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "config/validate.hpp"

namespace infergate::config {
namespace {

// RFC 9110 token characters: what an HTTP header name may contain.
bool is_token(const std::string& s) {
    static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
    });
}

std::optional<std::string> read_path(Diag& d, const Node& n, const std::string& path) {
    auto s = read_string(d, n, path);
    if (s && s->front() != '/') {
        d.error(n.mark, fmt::format("{} '{}' must start with '/'", path, *s));
        return std::nullopt;
    }
    return s;
}

void read_headers(Diag& d, const Node& list, const std::string& path, std::vector<HeaderMatch>& out) {
    if (!expect_list(d, list, path)) return;
    for (size_t i = 0; i < list.items.size(); ++i) {
        MapReader r(d, list.items[i], index_path(path, i));
        HeaderMatch h;
        if (const Node* n = r.require("name")) {
            if (auto v = read_string(d, *n, r.path("name"))) {
                if (!is_token(*v)) d.error(n->mark, fmt::format("{} '{}' is not a valid HTTP header name", r.path("name"), *v));
                h.name = *v;
                std::transform(h.name.begin(), h.name.end(), h.name.begin(),
                               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            }
        }
        if (const Node* n = r.require("value")) {
            if (auto v = read_string(d, *n, r.path("value"), true)) {
                if (v->find_first_of("\r\n") != std::string::npos || v->find('\0') != std::string::npos)
                    d.error(n->mark, fmt::format("{} must not contain CR, LF or NUL", r.path("value")));
                h.value = *v;
            }
        }
        r.finish();
        out.push_back(std::move(h));
    }
}

void read_match(Diag& d, const Node& n, const std::string& path, RouteMatch& m) {
    MapReader r(d, n, path);
    const Node* prefix = r.get("path_prefix");
    const Node* exact = r.get("path_exact");
    if (prefix && exact) {
        d.error(exact->mark, fmt::format("{}: set only one of 'path_prefix' and 'path_exact'", path));
    } else if (prefix) {
        if (auto v = read_path(d, *prefix, r.path("path_prefix"))) m.path = *v;
        m.path_kind = RouteMatch::PathKind::prefix;
    } else if (exact) {
        if (auto v = read_path(d, *exact, r.path("path_exact"))) m.path = *v;
        m.path_kind = RouteMatch::PathKind::exact;
    }
    if (const Node* h = r.get("headers")) read_headers(d, *h, r.path("headers"), m.headers);
    if (const Node* v = r.get("model"))
        if (auto s = read_string(d, *v, r.path("model"))) m.model = *s;
    r.finish();
}

void read_backends(Diag& d, const Node& list, const std::string& path, std::vector<Backend>& out) {
    if (!expect_list(d, list, path)) return;
    if (list.items.empty()) {
        d.error(list.mark, fmt::format("{}: a route needs at least one backend", path));
        return;
    }
    for (size_t i = 0; i < list.items.size(); ++i) {
        MapReader r(d, list.items[i], index_path(path, i));
        Backend b;
        if (const Node* n = r.require("pool"))
            if (auto v = read_name(d, *n, r.path("pool"))) b.pool = *v;
        // Bounded so that the sum over a route's backends fits in 32 bits.
        read_opt(r, "weight", b.weight,
                 [&d](const Node& n, const std::string& p) { return read_uint(d, n, p, 0, 1000000); });
        if (const Node* n = r.get("model_rewrite"))
            if (auto v = read_string(d, *n, r.path("model_rewrite"))) b.model_rewrite = *v;
        r.finish();
        out.push_back(std::move(b));
    }
    // A weight that failed to parse stays at its default 1, so a typo does
    // not also produce this error.
    if (std::all_of(out.begin(), out.end(), [](const Backend& b) { return b.weight == 0; })) d.error(list.mark, fmt::format("{}: all backends have weight 0", path));
}

}  // namespace

void read_routes(Diag& d, const Node& list, const std::string& path, std::vector<Route>& out) {
    if (!expect_list(d, list, path)) return;
    SeenNames seen;
    for (size_t i = 0; i < list.items.size(); ++i) {
        MapReader r(d, list.items[i], index_path(path, i));
        Route route;
        route.mark = list.items[i].mark;
        if (const Node* n = r.require("name")) {
            if (auto v = read_name(d, *n, r.path("name"))) {
                check_unique(d, seen, *v, n->mark, r.path("name"), "route name");
                route.name = *v;
            }
        }
        if (const Node* n = r.get("match")) read_match(d, *n, r.path("match"), route.match);
        if (const Node* n = r.require("backends")) read_backends(d, *n, r.path("backends"), route.backends);
        const Node* prio = r.get("priority");
        if (prio)
            if (auto v = read_priority(d, *prio, r.path("priority"))) route.priority = *v;
        if (const Node* n = r.get("objective")) {
            if (prio)
                d.error(n->mark, fmt::format("{}: set only one of 'priority' and 'objective'", r.path()));
            else if (auto v = read_name(d, *n, r.path("objective")))
                route.objective = *v;  // resolved by check_objectives
        }
        r.finish();
        out.push_back(std::move(route));  // one per item: check_references indexes by position
    }
}

}  // namespace infergate::config
