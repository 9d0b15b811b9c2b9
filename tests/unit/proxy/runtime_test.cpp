// Runtime: weighted backend choice and route matching.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/http_codec.hpp"
#include "proxy/runtime.hpp"

using namespace infergate;
using namespace infergate::proxy;

namespace {

RuntimeRoute route_with(const std::vector<uint32_t>& weights) {
    RuntimeRoute r{nullptr, {}, 0};
    for (size_t i = 0; i < weights.size(); ++i) {
        r.backends.push_back({i, weights[i], nullptr});
        r.total_weight += weights[i];
    }
    return r;
}

}  // namespace

TEST_CASE("choose_backend maps every residue to the backend owning it") {
    struct Case {
        std::vector<uint32_t> weights;
    };
    const Case cases[] = {{{1}}, {{90, 10}}, {{0, 3, 0, 2, 0}}, {{1, 1, 1, 1}}, {{5, 0}}, {{0, 7}}};
    for (const Case& c : cases) {
        RuntimeRoute r = route_with(c.weights);
        // Expected owner of each residue, from the weights.
        std::vector<size_t> owner;
        for (size_t i = 0; i < c.weights.size(); ++i) owner.insert(owner.end(), c.weights[i], i);
        REQUIRE(owner.size() == r.total_weight);
        std::vector<uint32_t> hits(c.weights.size(), 0);
        for (uint32_t base : {0u, r.total_weight * 1000u, (UINT32_MAX / r.total_weight - 1) * r.total_weight}) {
            for (uint32_t x = 0; x < r.total_weight; ++x) {
                CAPTURE(x);
                const RuntimeBackend& b = choose_backend(r, base + x);
                CHECK(b.pool == owner[(base + x) % r.total_weight]);
                ++hits[b.pool];
            }
        }
        for (size_t i = 0; i < c.weights.size(); ++i) CHECK(hits[i] == 3 * c.weights[i]);
    }
    // UINT32_MAX itself.
    RuntimeRoute r = route_with({0, 3, 0, 2, 0});
    CHECK(choose_backend(r, UINT32_MAX).pool == (UINT32_MAX % 5 < 3 ? 1u : 3u));
}

namespace {

const char* kConfig = R"(
listeners:
  - name: main
    address: 127.0.0.1:8080
routes:
  - name: exact-models
    match:
      path_exact: /v1/models
    backends:
      - pool: a
  - name: tenant-b
    match:
      path_prefix: /v1/
      headers:
        - name: X-Tenant
          value: Bee
        - name: x-tier
          value: gold
    backends:
      - pool: b
  - name: canary-model
    match:
      path_prefix: /v1/chat/
      model: llama-3.1-8b
    backends:
      - pool: b
        weight: 0
      - pool: c
        weight: 1
        model_rewrite: llama-3.1-8b-v2
  - name: v1
    match:
      path_prefix: /v1/
    backends:
      - pool: a
  - name: admin-ish
    match:
      path_prefix: /admin
    backends:
      - pool: c
pools:
  - name: a
    engine: vllm
    endpoints:
      - address: 127.0.0.1:9001
  - name: b
    engine: vllm
    endpoints:
      - address: 127.0.0.1:9002
  - name: c
    engine: vllm
    endpoints:
      - address: 127.0.0.1:9003
)";

struct Fixture {
    std::shared_ptr<const Runtime> rt;

    Fixture() {
        config::LoadResult cfg = config::load_config_string(kConfig, "runtime_test.yaml");
        for (const auto& e : cfg.errors) MESSAGE(e.to_string());
        REQUIRE(cfg.ok());
        EndpointRegistry reg;
        RuntimeBuild b = build_runtime(cfg.config, reg, 1);
        for (const auto& e : b.errors) MESSAGE(e.to_string());
        REQUIRE(b.runtime);
        rt = b.runtime;
    }

    // The name of the route matching a request with these header lines.
    std::string match(std::string_view path, std::string_view fields, const char* model) const {
        HttpParser p(HttpParser::Kind::request, HttpParser::BodyMode::collect, {});
        std::string m = "GET " + std::string(path) + " HTTP/1.1\r\nHost: gw\r\n" +
                        std::string(fields) + "\r\n";
        REQUIRE(p.feed(m) == m.size());
        REQUIRE(p.message_complete());
        std::string model_s = model ? model : "";
        const RuntimeRoute* r = rt->match(path, p.head(), model ? &model_s : nullptr);
        return r ? r->cfg->name : "<none>";
    }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "routes match by path, headers and model; first match wins") {
    struct Case {
        const char* path;
        const char* fields;
        const char* model;
        const char* route;
    };
    const Case cases[] = {
        {"/v1/models", "", nullptr, "exact-models"},
        {"/v1/models/x", "", nullptr, "v1"},             // exact is exact
        {"/v1/model", "", nullptr, "v1"},
        {"/v1/", "", nullptr, "v1"},
        {"/v1", "", nullptr, "<none>"},                  // prefix "/v1/"
        {"/v2/chat", "", nullptr, "<none>"},
        {"/admin", "", nullptr, "admin-ish"},
        {"/administrator", "", nullptr, "admin-ish"},    // a plain string prefix
        // Headers: names case-insensitive, values exact, all must match.
        {"/v1/chat/completions", "x-tenant: Bee\r\nX-TIER: gold\r\n", nullptr, "tenant-b"},
        {"/v1/chat/completions", "X-Tenant: Bee  \r\nX-Tier: gold\r\n", nullptr, "tenant-b"},
        {"/v1/chat/completions", "X-Tenant: bee\r\nX-Tier: gold\r\n", nullptr, "v1"},
        {"/v1/chat/completions", "X-Tenant: Bee\r\n", nullptr, "v1"},
        {"/v1/chat/completions", "X-Tenant: Beehive\r\nX-Tier: gold\r\n", nullptr, "v1"},
        {"/v1/models", "X-Tenant: Bee\r\nX-Tier: gold\r\n", nullptr, "exact-models"},
        // Model: exact, and only when the request has one.
        {"/v1/chat/completions", "", "llama-3.1-8b", "canary-model"},
        {"/v1/chat/completions", "", "llama-3.1-8B", "v1"},
        {"/v1/chat/completions", "", "llama-3.1-8b-v2", "v1"},
        {"/v1/chat/completions", "", nullptr, "v1"},
        {"/v1/completions", "", "llama-3.1-8b", "v1"},
        // An earlier header route beats a later model route.
        {"/v1/chat/completions", "X-Tenant: Bee\r\nX-Tier: gold\r\n", "llama-3.1-8b", "tenant-b"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.path);
        CAPTURE(c.fields);
        CAPTURE(c.model ? c.model : "(none)");
        CHECK(match(c.path, c.fields, c.model) == c.route);
    }
}

TEST_CASE_FIXTURE(Fixture, "weight-0 backends are never chosen from a built route") {
    const RuntimeRoute* r = nullptr;
    for (const RuntimeRoute& rr : rt->routes)
        if (rr.cfg->name == "canary-model") r = &rr;
    REQUIRE(r);
    REQUIRE(r->backends.size() == 2);
    CHECK(r->total_weight == 1);
    for (uint32_t x : {0u, 1u, 2u, 12345u, UINT32_MAX}) {
        const RuntimeBackend& b = choose_backend(*r, x);
        CHECK(rt->pools[b.pool].cfg->name == "c");
        REQUIRE(b.model_rewrite);
        CHECK(*b.model_rewrite == std::optional<std::string>("llama-3.1-8b-v2"));
    }
}

TEST_CASE("model labels: configured names keep their own, others are 'other'") {
    ModelLabels labels({"llama", "mistral", "llama", "", "other"});
    CHECK(labels.size() == 4);  // "", "other", llama, mistral
    struct Case {
        std::string model;
        std::string label;
    };
    const Case cases[] = {
        {"llama", "llama"}, {"mistral", "mistral"}, {"", ""},           {"other", "other"},
        {"LLAMA", "other"}, {"llam", "other"},      {"llamaa", "other"}, {"zzz", "other"},
        {"a", "other"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.model);
        CHECK(labels.name(labels.index(c.model)) == c.label);
    }
    CHECK(labels.index("") == ModelLabels::kNone);
    CHECK(labels.index("zzz") == ModelLabels::kOther);
    ModelLabels none;
    CHECK(none.name(none.index("llama")) == "other");
}

namespace {

const char* kObjectivesConfig = R"(
listeners:
  - name: main
    address: 127.0.0.1:8080
objectives:
  - name: batch
    priority: -5
  - name: critical
    priority: 10
  - name: a-only
    priority: -7
    pool: a
  - name: unset
routes:
  - name: default-route
    match:
      path_prefix: /v1/
    backends:
      - pool: a
      - pool: b
  - name: sheddable-route
    match:
      path_prefix: /batch/
    priority: -1
    backends:
      - pool: a
  - name: objective-route
    match:
      path_prefix: /crit/
    objective: critical
    backends:
      - pool: b
pools:
  - name: a
    endpoints:
      - address: 127.0.0.1:9001
  - name: b
    endpoints:
      - address: 127.0.0.1:9002
)";

}  // namespace

TEST_CASE("priority: the objective header names a configured objective, else the route's priority") {
    config::LoadResult cfg = config::load_config_string(kObjectivesConfig, "objectives.yaml");
    for (const auto& e : cfg.errors) MESSAGE(e.to_string());
    REQUIRE(cfg.ok());
    EndpointRegistry reg;
    RuntimeBuild b = build_runtime(cfg.config, reg, 1);
    REQUIRE(b.runtime);
    const Runtime& rt = *b.runtime;
    auto route = [&](std::string_view name) -> const RuntimeRoute& {
        for (const RuntimeRoute& r : rt.routes)
            if (r.cfg->name == name) return r;
        FAIL("no route " << name);
        return rt.routes.front();
    };
    struct Case {
        const char* route;
        size_t pool;  // 0 = a, 1 = b
        const char* fields;
        int want;
    };
    const Case cases[] = {
        {"default-route", 0, "", 0},
        {"sheddable-route", 0, "", -1},
        {"objective-route", 1, "", 10},
        {"default-route", 0, "x-gateway-inference-objective: batch\r\n", -5},
        {"default-route", 1, "x-llm-d-inference-objective: critical\r\n", 10},
        {"sheddable-route", 0, "X-Gateway-Inference-Objective: critical\r\n", 10},
        {"objective-route", 1, "x-gateway-inference-objective: batch\r\n", -5},
        // The current header wins over the deprecated alias.
        {"default-route", 0, "x-gateway-inference-objective: batch\r\nx-llm-d-inference-objective: critical\r\n", 10},
        // An empty current header falls through to the alias.
        {"default-route", 0, "x-llm-d-inference-objective: \r\nx-gateway-inference-objective: batch\r\n", -5},
        // Unknown names count as no header: the route's priority.
        {"default-route", 0, "x-gateway-inference-objective: nope\r\n", 0},
        {"sheddable-route", 0, "x-gateway-inference-objective: nope\r\n", -1},
        {"objective-route", 1, "x-gateway-inference-objective: Batch\r\n", 10},  // names are exact
        {"objective-route", 1, "x-gateway-inference-objective: batc\r\n", 10},
        // An objective bound to pool a is unknown to pool b.
        {"default-route", 0, "x-gateway-inference-objective: a-only\r\n", -7},
        {"default-route", 1, "x-gateway-inference-objective: a-only\r\n", 0},
        // Priority unset is 0, overriding the route's.
        {"sheddable-route", 0, "x-gateway-inference-objective: unset\r\n", 0},
    };
    for (const Case& c : cases) {
        CAPTURE(c.route);
        CAPTURE(c.fields);
        HttpParser p(HttpParser::Kind::request, HttpParser::BodyMode::collect, {});
        std::string m = "GET /v1/x HTTP/1.1\r\nHost: gw\r\n" + std::string(c.fields) + "\r\n";
        REQUIRE(p.feed(m) == m.size());
        REQUIRE(p.message_complete());
        CHECK(rt.priority(route(c.route), c.pool, p.head()) == c.want);
        // Every priority a request can get has a metrics label index.
        CHECK(rt.model_labels.priority_index(c.want) != ModelLabels::kNoPriority);
    }
    // The routes' and the objectives' priorities, distinct, in order.
    CHECK(rt.model_labels.priority_count() == 5);
    const int sorted[] = {-7, -5, -1, 0, 10};
    for (uint32_t i = 0; i < 5; ++i) CHECK(rt.model_labels.priority_index(sorted[i]) == i);
    CHECK(rt.model_labels.priority_index(1) == ModelLabels::kNoPriority);
}
