// Rejections: routes (match, headers, backends) and pools (endpoints,
// engine, metrics, failure mode) and references between them.
#include <doctest/doctest.h>

#include "helpers.hpp"

using namespace cfgtest;

TEST_CASE("routes: shape, names, unknown keys") {
    expect_error(listener + "routes: {}\npools: []\n", "routes must be a list, got a map");
    expect_error(with_route("    nmae: x\n"), "unknown key 'nmae' in routes[0]; did you mean 'name'?");
    expect_error(listener + "routes:\n  - backends: [{pool: p}]\n" + "pools: [{name: p, endpoints: [{address: 'a:1'}]}]\n",
                 "missing required key 'name' in routes[0]");
    expect_error(listener + "routes:\n  - name: r\npools: [{name: p, endpoints: [{address: 'a:1'}]}]\n",
                 "missing required key 'backends' in routes[0]");
    std::string two = listener +
                      "routes:\n"
                      "  - name: r\n"
                      "    backends: [{pool: p}]\n"
                      "  - name: r\n"
                      "    backends: [{pool: p}]\n"
                      "pools: [{name: p, endpoints: [{address: 'a:1'}]}]\n";
    auto e = expect_error(two, "duplicate route name 'r'");
    CHECK(e.to_string() == "t.yaml:7:11: routes[1].name: duplicate route name 'r' (first at line 5, column 11)");
}

TEST_CASE("routes: match") {
    expect_error(with_route("    match: /v1\n"), "routes[0].match must be a map, got '/v1'");
    expect_error(with_route("    match:\n      path_prefix: v1/\n"), "routes[0].match.path_prefix 'v1/' must start with '/'");
    expect_error(with_route("    match:\n      path_exact: v1\n"), "routes[0].match.path_exact 'v1' must start with '/'");
    auto both = expect_error(with_route("    match:\n      path_prefix: /a\n      path_exact: /b\n"),
                             "routes[0].match: set only one of 'path_prefix' and 'path_exact'");
    CHECK(both.mark.line == 10);
    CHECK(both.mark.col == 19);
    expect_error(with_route("    match:\n      path: /a\n"), "unknown key 'path' in routes[0].match");
    expect_error(with_route("    match:\n      path_regex: /a\n"), "unknown key 'path_regex' in routes[0].match");
    expect_error(with_route("    match:\n      model: [a]\n"), "routes[0].match.model must be a string, got a list");
    expect_error(with_route("    match:\n      model: \"\"\n"), "routes[0].match.model must not be empty");
}

TEST_CASE("routes: header matches") {
    expect_error(with_route("    match:\n      headers: {x-tenant: a}\n"), "routes[0].match.headers must be a list");
    expect_error(with_route("    match:\n      headers:\n        - name: x-tenant\n"),
                 "missing required key 'value' in routes[0].match.headers[0]");
    expect_error(with_route("    match:\n      headers:\n        - value: a\n"),
                 "missing required key 'name' in routes[0].match.headers[0]");
    expect_error(with_route("    match:\n      headers:\n        - name: \"x tenant\"\n          value: a\n"),
                 "routes[0].match.headers[0].name 'x tenant' is not a valid HTTP header name");
    expect_error(with_route("    match:\n      headers:\n        - name: x\n          value: \"a\\nb\"\n"),
                 "routes[0].match.headers[0].value must not contain CR, LF or NUL");
    expect_error(with_route("    match:\n      headers:\n        - name: x\n          value: a\n          exact: true\n"),
                 "unknown key 'exact' in routes[0].match.headers[0]");
}

TEST_CASE("routes: backends") {
    expect_error(listener + "routes:\n  - name: r\n    backends: []\npools: [{name: p, endpoints: [{address: 'a:1'}]}]\n",
                 "routes[0].backends: a route needs at least one backend");
    expect_error(with_route("    backends: p\n"), "duplicate key 'backends'");
    auto dangling = expect_error(listener +
                                     "routes:\n  - name: r\n    backends:\n      - pool: q\n"
                                     "pools:\n  - name: p\n    endpoints: [{address: 'a:1'}]\n",
                                 "no pool named 'q'");
    CHECK(dangling.to_string() == "t.yaml:7:15: routes[0].backends[0].pool: no pool named 'q'");
    expect_error(listener +
                     "routes:\n  - name: r\n    backends:\n      - pool: stabel\n"
                     "pools:\n  - name: stable\n    endpoints: [{address: 'a:1'}]\n",
                 "no pool named 'stabel'; did you mean 'stable'?");
    std::string b = listener + "routes:\n  - name: r\n    backends:\n";
    std::string p = "pools:\n  - name: p\n    endpoints: [{address: 'a:1'}]\n";
    expect_error(b + "      - weight: 1\n" + p, "missing required key 'pool' in routes[0].backends[0]");
    expect_error(b + "      - pool: p\n        weight: 1.5\n" + p,
                 "routes[0].backends[0].weight must be an integer from 0 to 1000000, got '1.5'");
    expect_error(b + "      - pool: p\n        weight: -1\n" + p, "negative numbers are not allowed");
    expect_error(b + "      - pool: p\n        weight: 1000001\n" + p, "got 1000001");
    expect_error(b + "      - pool: p\n        weight: \"9\"\n" + p, "(remove the quotes)");
    auto zero = expect_error(b + "      - pool: p\n        weight: 0\n" + p, "routes[0].backends: all backends have weight 0");
    CHECK(zero.mark.line == 7);
    expect_ok(b + "      - pool: p\n        weight: 0\n      - pool: p\n" + p);
    expect_error(b + "      - pool: p\n        model_rewrite: {}\n" + p,
                 "routes[0].backends[0].model_rewrite must be a string, got a map");
    expect_error(b + "      - pool: p\n        modelrewrite: x\n" + p,
                 "unknown key 'modelrewrite' in routes[0].backends[0]; did you mean 'model_rewrite'?");
}

TEST_CASE("routes need pools") {
    expect_error(listener + "routes:\n  - name: r\n    backends: [{pool: p}]\n", "routes are defined but the pools list is empty");
    expect_error(listener + "routes:\n  - name: r\n    backends: [{pool: p}]\npools: []\n",
                 "routes are defined but the pools list is empty");
    expect_ok(listener + "pools:\n  - name: p\n    endpoints: [{address: 'a:1'}]\n");  // pools without routes are fine
}

TEST_CASE("pools: shape, names, unknown keys") {
    expect_error(listener + "pools: {}\n", "pools must be a list, got a map");
    expect_error(listener + "pools:\n  - endpoints: [{address: 'a:1'}]\n", "missing required key 'name' in pools[0]");
    auto unk = expect_error(with_pool("    endpionts: []\n"), "unknown key 'endpionts' in pools[0]; did you mean 'endpoints'?");
    CHECK(unk.to_string() == "t.yaml:12:5: unknown key 'endpionts' in pools[0]; did you mean 'endpoints'?");
    expect_error(listener +
                     "pools:\n  - name: p\n    endpoints: [{address: 'a:1'}]\n"
                     "  - name: p\n    endpoints: [{address: 'a:2'}]\n",
                 "pools[1].name: duplicate pool name 'p'");
    expect_error(listener + "pools:\n  - name: p/q\n    endpoints: [{address: 'a:1'}]\n", "may only hold letters");
}

TEST_CASE("pools: endpoints") {
    expect_error(listener + "pools:\n  - name: p\n", "missing required key 'endpoints' in pools[0]");
    expect_error(listener + "pools:\n  - name: p\n    endpoints: []\n", "pools[0].endpoints must hold at least one endpoint");
    expect_error(listener + "pools:\n  - name: p\n    endpoints: 127.0.0.1:1\n", "pools[0].endpoints must be a list");
    expect_error(listener + "pools:\n  - name: p\n    endpoints: [127.0.0.1:1]\n", "pools[0].endpoints[0] must be a map");
    expect_error(listener + "pools:\n  - name: p\n    endpoints: [{labels: {}}]\n",
                 "missing required key 'address' in pools[0].endpoints[0]");
    auto port0 = expect_error(listener + "pools:\n  - name: p\n    endpoints:\n      - address: 127.0.0.1:0\n",
                              "port 0 is not allowed here");
    CHECK(port0.to_string() ==
          "t.yaml:7:18: pools[0].endpoints[0].address: address '127.0.0.1:0': port 0 is not allowed here (1 to 65535)");
    auto dup = expect_error(listener + "pools:\n  - name: p\n    endpoints:\n      - address: \"[::1]:1\"\n"
                                       "      - address: \"[0::1]:1\"\n",
                            "pools[0].endpoints[1].address: duplicate endpoint address '[::1]:1'");
    CHECK(dup.mark.line == 8);
    expect_error(listener + "pools:\n  - name: p\n    endpoints:\n      - address: a:1\n        label: {}\n",
                 "unknown key 'label' in pools[0].endpoints[0]; did you mean 'labels'?");
    expect_error(listener + "pools:\n  - name: p\n    endpoints:\n      - address: a:1\n        labels: [a]\n",
                 "pools[0].endpoints[0].labels must be a map, got a list");
    expect_error(listener + "pools:\n  - name: p\n    endpoints:\n      - address: a:1\n        labels: {role: [a]}\n",
                 "pools[0].endpoints[0].labels.role must be a string, got a list");
}

TEST_CASE("pools: engine, failure_mode, metrics") {
    expect_error(with_pool("    engine: tgi\n"), "pools[0].engine must be 'vllm' or 'sglang', got 'tgi'");
    expect_error(with_pool("    engine: [vllm]\n"), "pools[0].engine must be a string");
    expect_error(with_pool("    failure_mode: open\n"), "pools[0].failure_mode must be 'fail_open' or 'fail_close', got 'open'");
    expect_error(with_pool("    metrics_path: metrics\n"), "pools[0].metrics_path 'metrics' must start with '/'");
    expect_error(with_pool("    metrics_path: \"\"\n"), "pools[0].metrics_path must not be empty");
    expect_error(with_pool("    scrape_interval: 50\n"), "pools[0].scrape_interval: duration '50' needs a unit");
    expect_error(with_pool("    scrape_interval: 0ms\n"), "pools[0].scrape_interval must be at least 1ms");
    expect_error(with_pool("    metrics_staleness: fast\n"), "pools[0].metrics_staleness: 'fast' is not a duration");
    auto stale = expect_error(with_pool("    scrape_interval: 1s\n"),
                              "pools[0]: metrics_staleness (200ms) must be at least scrape_interval (1000ms)");
    CHECK(stale.mark.line == 12);
    expect_ok(with_pool("    scrape_interval: 1s\n    metrics_staleness: 3s\n"));
}
