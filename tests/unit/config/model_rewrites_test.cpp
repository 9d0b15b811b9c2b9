// model_rewrites: acceptance (both match forms, default weights, generic
// rules) and one rejection per error, with its position.
#include <doctest/doctest.h>

#include "helpers.hpp"

using namespace cfgtest;

namespace {

// A valid config with pools p and q and `rewrites` as the model_rewrites
// section's entries (indent 2), which start on line 15.
std::string with_rewrites(const std::string& rewrites) {
    return listener +
           "routes:\n"
           "  - name: r\n"
           "    backends: [{pool: p}]\n"
           "pools:\n"
           "  - name: p\n"
           "    endpoints:\n"
           "      - address: 127.0.0.1:8001\n"
           "  - name: q\n"
           "    endpoints:\n"
           "      - address: 127.0.0.1:8002\n"
           "model_rewrites:\n" +
           rewrites;
}

// One rewrite for pool p whose only rule has `rule` as its body (indent 8).
std::string one_rule(const std::string& rule) {
    return with_rewrites("  - name: mr\n    pool: p\n    rules:\n      - " + rule);
}

}  // namespace

TEST_CASE("model_rewrites: the CRD's shape and the shorthand load") {
    auto r = expect_ok(with_rewrites(R"(  - name: food-canary
    pool: p
    rules:
      - matches:
          - model: {type: Exact, value: foodreview}
          - model: {value: food}
          - model: foodreview-latest
        targets:
          - modelRewrite: foodreview-v1
            weight: 10
          - modelRewrite: foodreview-v2
            weight: 90
      - targets:
          - modelRewrite: base
  - name: q-all
    pool: q
    rules:
      - matches: []
        targets:
          - modelRewrite: a
          - modelRewrite: b
)"));
    const auto& mrs = r.config->model_rewrites;
    REQUIRE(mrs.size() == 2);
    CHECK(mrs[0].name == "food-canary");
    CHECK(mrs[0].pool == "p");
    REQUIRE(mrs[0].rules.size() == 2);
    CHECK(mrs[0].rules[0].models == std::vector<std::string>{"foodreview", "food", "foodreview-latest"});
    REQUIRE(mrs[0].rules[0].targets.size() == 2);
    CHECK(mrs[0].rules[0].targets[0].model_rewrite == "foodreview-v1");
    CHECK(mrs[0].rules[0].targets[0].weight == 10);
    CHECK(mrs[0].rules[0].targets[1].weight == 90);
    CHECK(mrs[0].rules[0].targets[1].mark.line == 25);
    CHECK(mrs[0].rules[1].models.empty());  // no matches: every model
    CHECK(mrs[0].rules[1].targets[0].weight == 1);
    CHECK(mrs[1].pool == "q");
    CHECK(mrs[1].rules[0].models.empty());  // matches: [] is the same
    CHECK(mrs[1].rules[0].targets[0].weight == 1);  // unset everywhere: equal shares
    CHECK(mrs[1].rules[0].targets[1].weight == 1);
}

TEST_CASE("model_rewrites: without the section there are no rules") {
    auto r = expect_ok(with_pool(""));
    CHECK(r.config->model_rewrites.empty());
}

TEST_CASE("model_rewrites: rejections") {
    struct Case {
        std::string yaml;
        std::string message;  // the whole "FILE:LINE:COL: message"
    };
    const std::string tf = "targets: [{modelRewrite: x}]";  // flow form
    const std::string t = tf + "\n";
    const Case cases[] = {
        {with_rewrites("  {}\n"), "t.yaml:15:3: model_rewrites must be a list, got a map"},
        {with_rewrites("  - pool: p\n    rules: [{" + tf + "}]\n"),
         "t.yaml:15:5: missing required key 'name' in model_rewrites[0]"},
        {with_rewrites("  - name: a\n    rules: [{" + tf + "}]\n"),
         "t.yaml:15:5: missing required key 'pool' in model_rewrites[0]"},
        {with_rewrites("  - name: a\n    pool: p\n"), "t.yaml:15:5: missing required key 'rules' in model_rewrites[0]"},
        {with_rewrites("  - name: a\n    pool: pp\n    rules: [{" + tf + "}]\n"),
         "t.yaml:16:11: model_rewrites[0].pool: no pool named 'pp'"},
        {with_rewrites("  - name: a\n    pool: p\n    poolRef: {name: p}\n    rules: [{" + tf + "}]\n"),
         "t.yaml:17:5: unknown key 'poolRef' in model_rewrites[0]"},
        {with_rewrites("  - name: a\n    pool: p\n    rules: []\n"),
         "t.yaml:17:12: model_rewrites[0].rules must hold at least one rule"},
        {with_rewrites("  - name: a\n    pool: p\n    rules: [{matches: [{model: m}], " + tf + "}]\n"
                       "  - name: a\n    pool: q\n    rules: [{" + tf + "}]\n"),
         "t.yaml:18:11: model_rewrites[1].name: duplicate model rewrite name 'a' (first at line 15, column 11)"},
        {one_rule("matches: [{model: m}]\n"), "t.yaml:18:9: missing required key 'targets' in model_rewrites[0].rules[0]"},
        {one_rule("matches: [{model: m}]\n        targets: []\n"),
         "t.yaml:19:18: model_rewrites[0].rules[0].targets must hold at least one target"},
        {one_rule("matches: [{model: m}]\n        targets: [{weight: 3}]\n"),
         "t.yaml:19:19: missing required key 'modelRewrite' in model_rewrites[0].rules[0].targets[0]"},
        {one_rule("matches: [{model: m}]\n        targets: [{modelRewrite: \"\"}]\n"),
         "t.yaml:19:34: model_rewrites[0].rules[0].targets[0].modelRewrite must not be empty"},
        {one_rule("matches: [{model: m}]\n        targets: [{model_rewrite: x}]\n"),
         "t.yaml:19:20: unknown key 'model_rewrite' in model_rewrites[0].rules[0].targets[0]; did you mean "
         "'modelRewrite'?"},
        {one_rule("matches: [{model: m}]\n        targets: [{modelRewrite: x, weight: 0}]\n"),
         "t.yaml:19:45: model_rewrites[0].rules[0].targets[0].weight must be an integer from 1 to 1000000, got 0"},
        {one_rule("matches: [{model: m}]\n        targets: [{modelRewrite: x, weight: 1000001}]\n"),
         "t.yaml:19:45: model_rewrites[0].rules[0].targets[0].weight must be an integer from 1 to 1000000, got 1000001"},
        {one_rule("matches: [{model: m}]\n        targets: [{modelRewrite: x, weight: \"7\"}]\n"),
         "t.yaml:19:45: model_rewrites[0].rules[0].targets[0].weight must be an integer from 1 to 1000000, got the "
         "quoted string \"7\" (remove the quotes)"},
        {one_rule("matches: [{model: m}]\n        targets:\n          - {modelRewrite: x, weight: 7}\n"
                  "          - {modelRewrite: y}\n"),
         "t.yaml:21:13: model_rewrites[0].rules[0].targets: set 'weight' on every target of a rule or on none "
         "(first weighted target at line 20, column 13)"},
        {one_rule("matches: [{model: m}]\n        targets: [{modelRewrite: x}, {modelRewrite: x}]\n"),
         "t.yaml:19:53: model_rewrites[0].rules[0].targets[1].modelRewrite: duplicate target model 'x' (first at "
         "line 19, column 34)"},
        {one_rule("matches: {model: m}\n        " + t),
         "t.yaml:18:18: model_rewrites[0].rules[0].matches must be a list, got a map"},
        {one_rule("matches: [{value: m}]\n        " + t),
         "t.yaml:18:19: missing required key 'model' in model_rewrites[0].rules[0].matches[0]"},
        {one_rule("matches: [{model: \"\"}]\n        " + t),
         "t.yaml:18:27: model_rewrites[0].rules[0].matches[0].model must not be empty"},
        {one_rule("matches: [{model: [m]}]\n        " + t),
         "t.yaml:18:27: model_rewrites[0].rules[0].matches[0].model must be a string, got a list"},
        {one_rule("matches: [{model: {type: Prefix, value: m}}]\n        " + t),
         "t.yaml:18:34: model_rewrites[0].rules[0].matches[0].model.type must be 'Exact', got 'Prefix'"},
        {one_rule("matches: [{model: {type: Exact}}]\n        " + t),
         "t.yaml:18:27: missing required key 'value' in model_rewrites[0].rules[0].matches[0].model"},
        {one_rule("matches: [{model: {value: m, regex: true}}]\n        " + t),
         "t.yaml:18:38: unknown key 'regex' in model_rewrites[0].rules[0].matches[0].model"},
        {one_rule("match: [{model: m}]\n        " + t),
         "t.yaml:18:9: unknown key 'match' in model_rewrites[0].rules[0]; did you mean 'matches'?"},
        // The same model twice in one pool: in one rule, across rules, across entries.
        {one_rule("matches: [{model: m}, {model: m}]\n        " + t),
         "t.yaml:18:39: model_rewrites[0].rules[0].matches[1].model: duplicate match in pool 'p' for model 'm' "
         "(first at line 18, column 27)"},
        {one_rule("matches: [{model: m}]\n        " + t + "      - matches: [{model: {value: m}}]\n        " + t),
         "t.yaml:20:35: model_rewrites[0].rules[1].matches[0].model: duplicate match in pool 'p' for model 'm' "
         "(first at line 18, column 27)"},
        {with_rewrites("  - name: a\n    pool: p\n    rules: [{matches: [{model: m}], " + tf + "}]\n"
                       "  - name: b\n    pool: p\n    rules: [{matches: [{model: m}], " + tf + "}]\n"),
         "t.yaml:20:32: model_rewrites[1].rules[0].matches[0].model: duplicate match in pool 'p' for model 'm' "
         "(first at line 17, column 32)"},
        // Two rules that match every model.
        {one_rule(t + "      - matches: []\n        " + t),
         "t.yaml:19:9: model_rewrites[0].rules[1]: pool 'p' already has a rule matching every model (first at line "
         "18, column 9)"},
    };
    for (const Case& c : cases) {
        LoadResult r = load(c.yaml);
        INFO("yaml:\n" << c.yaml << "errors:\n" << all_errors(r));
        CHECK_FALSE(r.ok());
        bool found = false;
        for (const auto& e : r.errors) found = found || e.to_string() == c.message;
        CHECK_MESSAGE(found, "expected: " << c.message);
    }
}

TEST_CASE("model_rewrites: the same model in two pools is fine") {
    const std::string rule = "    rules: [{matches: [{model: m}], targets: [{modelRewrite: x}]}]\n";
    expect_ok(with_rewrites("  - name: a\n    pool: p\n" + rule + "  - name: b\n    pool: q\n" + rule));
}

TEST_CASE("model_rewrites: a rule's weights must fit one 31-bit draw") {
    // 2148 targets of the largest weight sum past 2^31 - 1; 2147 do not.
    auto rule = [](int n) {
        std::string s = "matches: [{model: m}]\n        targets:\n";
        for (int i = 0; i < n; ++i) s += "          - {modelRewrite: t" + std::to_string(i) + ", weight: 1000000}\n";
        return s;
    };
    expect_ok(with_rewrites("  - name: mr\n    pool: p\n    rules:\n      - " + rule(2147)));
    auto e = expect_error(with_rewrites("  - name: mr\n    pool: p\n    rules:\n      - " + rule(2148)),
                          "model_rewrites[0].rules[0].targets: the weights sum to 2148000000, more than 2147483647");
    CHECK(e.mark.line == 20);
}
