// objectives and a route's priority/objective: acceptance and every
// rejection with its file:line:col.
#include <doctest/doctest.h>

#include "helpers.hpp"

using namespace cfgtest;

namespace {

// with("", "") plus a second pool q, and `tail` appended at the top level.
std::string two_pools(const std::string& route_extra, const std::string& tail) {
    return with(route_extra, "  - name: q\n    endpoints:\n      - address: 127.0.0.1:8002\n") + tail;
}

}  // namespace

TEST_CASE("objectives: accepted shapes and defaults") {
    auto r = expect_ok(two_pools("    objective: batch\n",
                                 "objectives:\n"
                                 "  - name: batch\n"
                                 "    priority: -10\n"
                                 "  - name: chat\n"
                                 "    priority: 100\n"
                                 "    pool: q\n"
                                 "  - name: plain\n"));
    const auto& o = r.config->objectives;
    REQUIRE(o.size() == 3);
    CHECK(o[0].name == "batch");
    CHECK(o[0].priority == -10);
    CHECK_FALSE(o[0].pool);
    CHECK(o[1].priority == 100);
    CHECK(o[1].pool == std::optional<std::string>("q"));
    CHECK(o[2].priority == 0);  // unset means 0, as the reference
    // The route's objective resolves to its priority.
    CHECK(r.config->routes[0].objective == std::optional<std::string>("batch"));
    CHECK(r.config->routes[0].priority == -10);
    CHECK(r.config->find_objective("chat") == &o[1]);
    CHECK(r.config->find_objective("nope") == nullptr);

    // A route's own priority, and the default 0.
    CHECK(expect_ok(with_route("    priority: -1\n")).config->routes[0].priority == -1);
    CHECK(expect_ok(with_route("    priority: 2147483647\n")).config->routes[0].priority == 2147483647);
    CHECK(expect_ok(with_route("")).config->routes[0].priority == 0);
    CHECK(expect_ok(listener + "objectives: []\n").config->objectives.empty());
}

TEST_CASE("objectives and route priority: rejections at file:line:col") {
    struct Case {
        std::string yaml;
        const char* error;
    };
    const std::string objs = "objectives:\n  - name: batch\n    priority: -1\n    pool: p\n";
    const Case cases[] = {
        {listener + "objectives: batch\n", "t.yaml:4:13: objectives must be a list, got 'batch'"},
        {listener + "objectives:\n  - priority: 1\n", "t.yaml:5:5: missing required key 'name' in objectives[0]"},
        {listener + "objectives:\n  - name: a b\n",
         "t.yaml:5:11: objectives[0].name 'a b' may only hold letters, digits, '-', '_' and '.'"},
        {listener + "objectives:\n  - name: a\n  - name: a\n",
         "t.yaml:6:11: objectives[1].name: duplicate objective name 'a' (first at line 5, column 11)"},
        {listener + "objectives:\n  - name: a\n    priority: high\n",
         "t.yaml:6:15: objectives[0].priority must be an integer from -2147483648 to 2147483647 (negative: "
         "sheddable), got 'high'"},
        {listener + "objectives:\n  - name: a\n    priority: 2147483648\n",
         "t.yaml:6:15: objectives[0].priority must be an integer"},
        {listener + "objectives:\n  - name: a\n    priority: \"-1\"\n",
         "t.yaml:6:15: objectives[0].priority must be an integer"},
        {listener + "objectives:\n  - name: a\n    priority: 1.5\n",
         "t.yaml:6:15: objectives[0].priority must be an integer"},
        {listener + "objectives:\n  - name: a\n    prio: 1\n",
         "t.yaml:6:5: unknown key 'prio' in objectives[0]"},
        {with("", "") + "objectives:\n  - name: a\n    pool: pp\n",
         "t.yaml:14:11: objectives[0].pool: no pool named 'pp'"},
        {with_route("    priority: -1x\n"), "t.yaml:8:15: routes[0].priority must be an integer"},
        {with_route("    priority: 1\n    objective: batch\n") + objs,
         "t.yaml:9:16: routes[0]: set only one of 'priority' and 'objective'"},
        {with_route("    objective: bacth\n") + objs,
         "t.yaml:8:16: routes[0].objective: no objective named 'bacth'; did you mean 'batch'?"},
        {with_route("    objective: batch\n"),
         "t.yaml:8:16: routes[0].objective: no objective named 'batch' (the top-level objectives list is empty)"},
        {two_pools("    objective: batch\n", "objectives:\n  - name: batch\n    pool: q\n"),
         "t.yaml:8:16: routes[0].objective: objective 'batch' applies to pool 'q' only, but the route also sends to "
         "pool 'p'"},
    };
    for (const Case& c : cases) {
        LoadResult r = load(c.yaml);
        INFO("yaml:\n" << c.yaml << "errors:\n" << all_errors(r));
        CHECK_FALSE(r.ok());
        REQUIRE(r.errors.size() == 1);
        CHECK(r.errors[0].to_string().rfind(c.error, 0) == 0);
    }
}
