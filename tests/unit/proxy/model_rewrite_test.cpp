// ModelRewriteTable: which rule a model finds (exact over generic, per
// pool) and which target a draw gives, from real YAML through the loader
// and build_runtime.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "proxy/model_rewrite.hpp"
#include "proxy/runtime.hpp"

using namespace infergate;
using namespace infergate::proxy;

namespace {

const char* kConfig = R"(
listeners:
  - name: main
    address: 127.0.0.1:8080
routes:
  - name: all
    backends:
      - pool: food
pools:
  - name: food
    endpoints:
      - address: 127.0.0.1:9001
  - name: other
    endpoints:
      - address: 127.0.0.1:9002
  - name: plain
    endpoints:
      - address: 127.0.0.1:9003
model_rewrites:
  - name: food-canary
    pool: food
    rules:
      - matches:
          - model: {type: Exact, value: foodreview}
          - model: food
        targets:
          - modelRewrite: foodreview-v1
            weight: 70
          - modelRewrite: foodreview-v2
            weight: 30
  - name: food-default
    pool: food
    rules:
      - targets:
          - modelRewrite: base
  - name: other-even
    pool: other
    rules:
      - matches: [{model: foodreview}]
        targets:
          - modelRewrite: a
          - modelRewrite: b
          - modelRewrite: c
)";

struct Fixture {
    std::shared_ptr<const Runtime> rt;
    Fixture() {
        config::LoadResult cfg = config::load_config_string(kConfig, "model_rewrite_test.yaml");
        for (const auto& e : cfg.errors) MESSAGE(e.to_string());
        REQUIRE(cfg.ok());
        EndpointRegistry reg;
        RuntimeBuild b = build_runtime(cfg.config, reg, 1);
        for (const auto& e : b.errors) MESSAGE(e.to_string());
        REQUIRE(b.runtime);
        rt = b.runtime;
    }
    const ModelRewriteTable& table(const std::string& pool) const {
        for (const RuntimePool& p : rt->pools)
            if (p.cfg->name == pool) return p.rewrites;
        FAIL("no pool " << pool);
        return rt->pools.front().rewrites;
    }
};

}  // namespace

TEST_CASE("find: exact matches first, then the pool's generic rule, per pool") {
    Fixture f;
    struct Case {
        const char* pool;
        const char* model;
        const char* source;  // nullptr: no rule
        std::vector<std::string_view> targets;
    };
    const Case cases[] = {
        {"food", "foodreview", "food-canary", {"foodreview-v1", "foodreview-v2"}},
        {"food", "food", "food-canary", {"foodreview-v1", "foodreview-v2"}},
        {"food", "unknown", "food-default", {"base"}},
        {"food", "", "food-default", {"base"}},
        {"food", "FoodReview", "food-default", {"base"}},  // exact means case-sensitive
        {"other", "foodreview", "other-even", {"a", "b", "c"}},
        {"other", "food", nullptr, {}},  // food-canary belongs to pool food
        {"plain", "foodreview", nullptr, {}},
    };
    for (const Case& c : cases) {
        CAPTURE(c.pool);
        CAPTURE(c.model);
        const RewriteTargets* r = f.table(c.pool).find(c.model);
        if (!c.source) {
            CHECK(r == nullptr);
            continue;
        }
        REQUIRE(r != nullptr);
        CHECK(r->source->name == c.source);
        CHECK(r->models == c.targets);
    }
    CHECK(f.table("plain").empty());
    CHECK_FALSE(f.table("food").empty());
    // The client-facing names are listed by /v1/models.
    CHECK(f.rt->models_json.find("\"foodreview\"") != std::string::npos);
    CHECK(f.rt->models_json.find("\"food\"") != std::string::npos);
}

TEST_CASE("choose: each target owns `weight` consecutive residues, in file order") {
    Fixture f;
    struct Case {
        const char* pool;
        const char* model;
        std::map<std::string_view, uint32_t> weights;
    };
    const Case cases[] = {
        {"food", "foodreview", {{"foodreview-v1", 70}, {"foodreview-v2", 30}}},
        {"food", "x", {{"base", 1}}},
        {"other", "foodreview", {{"a", 1}, {"b", 1}, {"c", 1}}},  // no weights: equal shares
    };
    for (const Case& c : cases) {
        CAPTURE(c.model);
        const RewriteTargets* r = f.table(c.pool).find(c.model);
        REQUIRE(r != nullptr);
        uint32_t total = 0;
        for (const auto& [m, w] : c.weights) total += w;
        REQUIRE(r->total == total);
        // Every residue, from three bases including the top of the range.
        std::map<std::string_view, uint32_t> hits;
        for (uint32_t base : {0u, total * 1000u, (UINT32_MAX / total - 1) * total})
            for (uint32_t x = 0; x < total; ++x) ++hits[r->choose(base + x)];
        for (const auto& [m, w] : c.weights) CHECK(hits[m] == 3 * w);
        // The first residues go to the first target, the last to the last.
        CHECK(r->choose(0) == r->models.front());
        CHECK(r->choose(total - 1) == r->models.back());
    }
}

TEST_CASE("an empty table finds nothing") {
    ModelRewriteTable t;
    CHECK(t.empty());
    CHECK(t.find("foodreview") == nullptr);
}
