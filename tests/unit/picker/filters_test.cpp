// by-label and the role filters, built from real YAML, run through a pool.
#include <doctest/doctest.h>

#include <set>

#include "config/loader.hpp"
#include "picker/scheduler.hpp"

using namespace infergate;

namespace {

std::string config_with(const std::string& plugins) {
    return R"(listeners:
  - name: main
    address: 127.0.0.1:0
routes:
  - name: all
    backends:
      - pool: p
pools:
  - name: p
    endpoints:
      - address: 127.0.0.1:8001
        labels: {llm-d.ai/role: decode, tier: gold}
      - address: 127.0.0.1:8002
        labels: {llm-d.ai/role: prefill, tier: silver}
      - address: 127.0.0.1:8003
        labels: {tier: gold}
      - address: 127.0.0.1:8004
        labels: {llm-d.ai/role: both}
    scheduler:
      plugins:
)" + plugins;
}

struct Built {
    std::shared_ptr<const config::Config> cfg;
    picker::BuildResult result;
};

Built build(const std::string& plugins) {
    auto loaded = config::load_config_string(config_with(plugins), "infergate.yaml");
    for (const auto& e : loaded.errors) FAIL_CHECK(e.to_string());
    REQUIRE(loaded.ok());
    Built b{loaded.config, picker::build_scheduler(loaded.config->pools.at(0).scheduler)};
    return b;
}

// The endpoints a pool can ever pick, over many picks with fresh metrics.
std::set<std::string> reachable(const Built& b) {
    REQUIRE(b.result.scheduler);
    std::vector<std::shared_ptr<picker::EndpointState>> eps;
    auto now = picker::Clock::now();
    for (const auto& e : b.cfg->pools[0].endpoints) {
        eps.push_back(std::make_shared<picker::EndpointState>("p", e));
        eps.back()->publish({}, now);
    }
    picker::PoolPicker pool("p", eps, b.result.scheduler, std::chrono::milliseconds(200),
                            config::FailureMode::fail_open);
    picker::PickScratch scratch;
    std::set<std::string> seen;
    for (int i = 0; i < 400; ++i) {
        auto r = pool.pick({}, now, nullptr, scratch);
        if (r.status == picker::PickResult::Status::ok) seen.insert(r.endpoint->id());
    }
    return seen;
}

}  // namespace

TEST_CASE("decode-filter keeps decode-capable and unlabelled endpoints") {
    auto b = build("        - type: decode-filter\n        - type: random-picker\n");
    CHECK(reachable(b) == std::set<std::string>{"127.0.0.1:8001", "127.0.0.1:8003", "127.0.0.1:8004"});
}

TEST_CASE("prefill-filter keeps only prefill-capable endpoints") {
    auto b = build("        - type: prefill-filter\n        - type: random-picker\n");
    CHECK(reachable(b) == std::set<std::string>{"127.0.0.1:8002", "127.0.0.1:8004"});
}

TEST_CASE("by-label with validValues, with and without allowsNoLabel") {
    auto gold = build(R"(        - type: by-label
          parameters:
            label: tier
            validValues: [gold]
        - type: random-picker
)");
    CHECK(reachable(gold) == std::set<std::string>{"127.0.0.1:8001", "127.0.0.1:8003"});
    auto unlabelled = build(R"(        - type: by-label
          parameters:
            label: tier
            allowsNoLabel: true
        - type: random-picker
)");
    CHECK(reachable(unlabelled) == std::set<std::string>{"127.0.0.1:8004"});
}

TEST_CASE("a filter that removes every endpoint leaves nothing to pick") {
    auto none = build(R"(        - type: by-label
          parameters:
            label: tier
            validValues: [platinum]
        - type: random-picker
)");
    CHECK(reachable(none).empty());
}

TEST_CASE("by-label rejects bad parameters at load, with positions") {
    struct Case {
        std::string params;
        std::string error;
    } cases[] = {
        {"            validValues: [gold]\n",
         "infergate.yaml:21:11: plugin 'by-label' (by-label) needs parameter 'label'"},
        {"            label: tier\n",
         "infergate.yaml:21:11: plugin 'by-label' (by-label) needs 'validValues' or 'allowsNoLabel: true'"},
        {"            label: tier\n            validValues: gold\n",
         "infergate.yaml:24:26: parameter 'validValues' of plugin 'by-label' must be a list of strings"},
        {"            label: tier\n            allowsNoLabel: yes please\n",
         "infergate.yaml:24:28: parameter 'allowsNoLabel' of plugin 'by-label' must be true or false"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.params);
        auto b = build("        - type: by-label\n          parameters:\n" + c.params +
                       "        - type: random-picker\n");
        CHECK_FALSE(b.result.scheduler);
        REQUIRE(b.result.errors.size() == 1);
        CHECK(b.result.errors[0].to_string() == c.error);
    }
}

TEST_CASE("label-selector-filter: matchLabels and matchExpressions, ANDed") {
    const std::set<std::string> all{"127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003", "127.0.0.1:8004"};
    struct Case {
        std::string params;  // under `parameters:`, or empty for none
        std::set<std::string> want;
    } cases[] = {
        {"", all},  // the empty selector matches everything
        {"            matchLabels: {}\n            matchExpressions: []\n", all},
        {"            matchLabels: {tier: gold}\n", {"127.0.0.1:8001", "127.0.0.1:8003"}},
        {"            matchLabels: {tier: gold, llm-d.ai/role: decode}\n", {"127.0.0.1:8001"}},
        {"            matchLabels: {tier: platinum}\n", {}},
        {"            matchExpressions:\n              - {key: tier, operator: In, values: [gold, silver]}\n",
         {"127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"}},
        // NotIn keeps endpoints without the label, as Kubernetes does.
        {"            matchExpressions:\n              - {key: tier, operator: NotIn, values: [gold]}\n",
         {"127.0.0.1:8002", "127.0.0.1:8004"}},
        {"            matchExpressions:\n              - {key: llm-d.ai/role, operator: Exists}\n",
         {"127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8004"}},
        {"            matchExpressions:\n              - key: tier\n                operator: DoesNotExist\n",
         {"127.0.0.1:8004"}},
        {"            matchLabels: {tier: gold}\n            matchExpressions:\n"
         "              - {key: llm-d.ai/role, operator: DoesNotExist}\n",
         {"127.0.0.1:8003"}},
        {"            matchExpressions:\n              - {key: tier, operator: Exists}\n"
         "              - {key: llm-d.ai/role, operator: In, values: [prefill, both]}\n",
         {"127.0.0.1:8002"}},
    };
    for (const std::string type : {"label-selector-filter", "by-label-selector"}) {
        for (const Case& c : cases) {
            CAPTURE(type);
            CAPTURE(c.params);
            auto b = build("        - type: " + type + "\n" + (c.params.empty() ? "" : "          parameters:\n") +
                           c.params + "        - type: random-picker\n");
            CHECK(reachable(b) == c.want);
        }
    }
}

TEST_CASE("label-selector-filter rejects bad selectors at load, with positions") {
    struct Case {
        std::string params;
        std::string error;
    } cases[] = {
        {"            matchLabels: [tier]\n",
         "infergate.yaml:23:26: parameter 'matchLabels' of plugin 'label-selector-filter' must be a map of "
         "label to value"},
        {"            matchLabels: {tier: [gold]}\n",
         "infergate.yaml:23:33: parameter 'matchLabels' of plugin 'label-selector-filter': the value of 'tier' "
         "must be a string"},
        {"            matchLabels: {-tier: gold}\n",
         "infergate.yaml:23:27: plugin 'label-selector-filter' (label-selector-filter): matchLabels key '-tier' "
         "is not a valid label key ([prefix/]name: name up to 63 of A-Z a-z 0-9 - _ . starting and ending "
         "alphanumeric; prefix a DNS subdomain)"},
        {"            matchLabels: {Bad_Prefix/tier: gold}\n",
         "infergate.yaml:23:27: plugin 'label-selector-filter' (label-selector-filter): matchLabels key "
         "'Bad_Prefix/tier' is not a valid label key ([prefix/]name: name up to 63 of A-Z a-z 0-9 - _ . "
         "starting and ending alphanumeric; prefix a DNS subdomain)"},
        {"            matchLabels: {tier: gold!}\n",
         "infergate.yaml:23:33: plugin 'label-selector-filter' (label-selector-filter): matchLabels value "
         "'gold!' is not a valid label value (empty, or up to 63 of A-Z a-z 0-9 - _ . starting and ending "
         "alphanumeric)"},
        {"            matchExpressions: {key: tier}\n",
         "infergate.yaml:23:31: parameter 'matchExpressions' of plugin 'label-selector-filter' must be a list"},
        {"            matchExpressions:\n              - {key: tier, operator: Gt, values: ['1']}\n",
         "infergate.yaml:24:39: plugin 'label-selector-filter' (label-selector-filter): matchExpressions[0] "
         "operator must be In, NotIn, Exists or DoesNotExist, got 'Gt'"},
        {"            matchExpressions:\n              - {key: tier, operator: In}\n",
         "infergate.yaml:24:17: plugin 'label-selector-filter' (label-selector-filter): matchExpressions[0] "
         "operator In needs at least one value"},
        {"            matchExpressions:\n              - {key: tier, operator: NotIn, values: []}\n",
         "infergate.yaml:24:54: plugin 'label-selector-filter' (label-selector-filter): matchExpressions[0] "
         "operator NotIn needs at least one value"},
        {"            matchExpressions:\n              - {key: tier, operator: Exists, values: [gold]}\n",
         "infergate.yaml:24:55: plugin 'label-selector-filter' (label-selector-filter): matchExpressions[0] "
         "operator Exists takes no values"},
        {"            matchExpressions:\n              - {operator: Exists}\n",
         "infergate.yaml:24:17: plugin 'label-selector-filter' (label-selector-filter): matchExpressions[0] "
         "needs a 'key' (a label name)"},
        {"            matchExpressions:\n              - {key: tier, operator: Exists, value: x}\n",
         "infergate.yaml:24:47: plugin 'label-selector-filter' (label-selector-filter): unknown key 'value' in "
         "matchExpressions[0] (expected 'key', 'operator', 'values')"},
        {"            matchExpressions: [tier]\n",
         "infergate.yaml:23:32: plugin 'label-selector-filter' (label-selector-filter): matchExpressions[0] must "
         "be a map with 'key', 'operator' and optionally 'values'"},
        {"            matchLabel: {tier: gold}\n",
         "infergate.yaml:23:13: unknown parameter 'matchLabel' for plugin 'label-selector-filter' (type "
         "'label-selector-filter') (did you mean 'matchLabels'?)"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.params);
        auto b = build("        - type: label-selector-filter\n          parameters:\n" + c.params +
                       "        - type: random-picker\n");
        CHECK_FALSE(b.result.scheduler);
        REQUIRE(b.result.errors.size() == 1);
        CHECK(b.result.errors[0].to_string() == c.error);
    }
}
