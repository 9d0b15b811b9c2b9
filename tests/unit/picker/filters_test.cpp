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
