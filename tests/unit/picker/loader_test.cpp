// build_scheduler fed by the real config loader: marks from actual YAML.
#include <doctest/doctest.h>

#include "config/loader.hpp"
#include "helpers.hpp"
#include "picker/scheduler.hpp"
#include "picker/scheduler_impl.hpp"

using namespace infergate;

TEST_CASE("loader + build_scheduler: a valid section builds") {
    const std::string text = std::string(picker_test::kPoolConfigHead) + R"(    scheduler:
      plugins:
        - type: queue-scorer
        - type: active-request-scorer
          parameters:
            idleThreshold: 1
            maxBusyScore: 0.5
        - type: max-score-picker
      schedulingProfiles:
        - name: default
          plugins:
            - pluginRef: queue-scorer
              weight: 2
            - pluginRef: active-request-scorer
            - pluginRef: max-score-picker
)";
    const auto loaded = config::load_config_string(text, "infergate.yaml");
    for (const auto& e : loaded.errors) FAIL_CHECK(e.to_string());
    REQUIRE(loaded.ok());
    const auto r = picker::build_scheduler(loaded.config->pools.at(0).scheduler);
    for (const auto& e : r.errors) FAIL_CHECK(e.to_string());
    REQUIRE(r.scheduler);
    CHECK(r.scheduler->scorers().size() == 2);
    CHECK(r.scheduler->scorers()[0].weight == 2.0);
}

TEST_CASE("loader + build_scheduler: errors point into the YAML") {
    const std::string text = std::string(picker_test::kPoolConfigHead) + R"(    scheduler:
      plugins:
        - type: queue-scorr
        - type: active-request-scorer
          parameters:
            maxBusyScore: 3
)";
    const auto loaded = config::load_config_string(text, "infergate.yaml");
    for (const auto& e : loaded.errors) FAIL_CHECK(e.to_string());
    REQUIRE(loaded.ok());
    const auto r = picker::build_scheduler(loaded.config->pools.at(0).scheduler);
    REQUIRE(r.errors.size() == 2);
    CHECK(r.errors[0].to_string() ==
          "infergate.yaml:18:17: unknown plugin type 'queue-scorr' (did you mean 'queue-scorer'?)");
    CHECK(r.errors[1].to_string() ==
          "infergate.yaml:21:27: parameter 'maxBusyScore' of plugin 'active-request-scorer' must be between 0 "
          "and 1, got 3");
}

TEST_CASE("loader + build_scheduler: load-aware-scorer threshold must be positive") {
    const std::string text = std::string(picker_test::kPoolConfigHead) + R"(    scheduler:
      plugins:
        - type: load-aware-scorer
          parameters:
            threshold: 0
)";
    const auto loaded = config::load_config_string(text, "infergate.yaml");
    REQUIRE(loaded.ok());
    const auto r = picker::build_scheduler(loaded.config->pools.at(0).scheduler);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].to_string() ==
          "infergate.yaml:20:24: parameter 'threshold' of plugin 'load-aware-scorer' must be between 1 and "
          "2147483647, got 0");
}
