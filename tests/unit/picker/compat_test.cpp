// EndpointPickerConfig compatibility: the reference's other top-level
// sections are accepted and reported; unsupported plugin types fail the
// load unless the pool says to ignore them, then warn once per type.
#include <doctest/doctest.h>

#include "config/loader.hpp"
#include "helpers.hpp"
#include "picker/scheduler.hpp"
#include "picker/scheduler_impl.hpp"

using namespace infergate;

namespace {

std::string config_text(const std::string& pool_extra, const std::string& scheduler) {
    return std::string(picker_test::kPoolConfigHead) + pool_extra + "    scheduler:\n" + scheduler;
}

picker::BuildResult build(const std::string& text) {
    const auto loaded = config::load_config_string(text, "infergate.yaml");
    for (const auto& e : loaded.errors) FAIL_CHECK(e.to_string());
    REQUIRE(loaded.ok());
    return picker::build_scheduler(loaded.config->pools.at(0).scheduler);
}

std::vector<std::string> strings(const std::vector<config::ConfigError>& v) {
    std::vector<std::string> out;
    for (const auto& e : v) out.push_back(e.to_string());
    return out;
}

const char* const kWithUnsupported = R"(      apiVersion: inference.networking.x-k8s.io/v1alpha1
      kind: EndpointPickerConfig
      plugins:
        - type: token-producer
        - type: latency-scorer
          name: lat-a
        - type: latency-scorer
          name: lat-b
        - type: queue-scorer
      schedulingProfiles:
        - name: default
          plugins:
            - pluginRef: lat-a
              weight: 3
            - pluginRef: queue-scorer
            - pluginRef: lat-b
)";

}  // namespace

TEST_CASE("compat: the reference's other sections are accepted and each reported once, at its key") {
    const auto r = build(config_text("", R"(      apiVersion: llm-d.ai/v1alpha1
      kind: EndpointPickerConfig
      featureGates:
        - dataLayer
      plugins:
        - type: queue-scorer
      dataLayer:
        sources: []
      flowControl:
        maxBytes: 1000
      requestHandler:
        parser: openai-parser
      saturationDetector:
        queueDepthThreshold: 5
)"));
    REQUIRE(r.scheduler);
    // flowControl and saturationDetector: their detector pluginRef is read
    // (utilization_test.cpp); their other keys are reported.
    const std::vector<std::string> want{
        "infergate.yaml:30:9: section 'saturationDetector.queueDepthThreshold' is accepted but not acted on by "
        "infergate yet; ignored",
        "infergate.yaml:26:9: section 'flowControl.maxBytes' is accepted but not acted on by infergate yet; ignored",
        "infergate.yaml:19:7: section 'featureGates' is accepted but not acted on by infergate yet; ignored",
        "infergate.yaml:23:7: section 'dataLayer' is accepted but not acted on by infergate yet; ignored",
        "infergate.yaml:27:7: section 'requestHandler' is accepted but not acted on by infergate yet; ignored",
    };
    const auto got = strings(r.warnings);
    CHECK(got.size() == want.size());
    for (size_t i = 0; i < got.size() && i < want.size(); ++i) CHECK(got[i] == want[i]);
}

TEST_CASE("compat: unsupported plugin types fail the load by default, naming each") {
    const auto r = build(config_text("", kWithUnsupported));
    CHECK_FALSE(r.scheduler);
    CHECK(strings(r.errors) == std::vector<std::string>{
                                   "infergate.yaml:20:17: plugin type 'token-producer' is not supported yet",
                                   "infergate.yaml:21:17: plugin type 'latency-scorer' is not supported yet",
                                   "infergate.yaml:23:17: plugin type 'latency-scorer' is not supported yet",
                               });
}

TEST_CASE("compat: ignore_unsupported_plugins drops them with one warning per type") {
    const auto r = build(config_text("    ignore_unsupported_plugins: true\n", kWithUnsupported));
    for (const auto& e : strings(r.errors)) FAIL_CHECK(e);
    REQUIRE(r.scheduler);
    CHECK(strings(r.warnings) ==
          std::vector<std::string>{
              "infergate.yaml:21:17: plugin type 'token-producer' is not supported yet; ignored "
              "(ignore_unsupported_plugins)",
              "infergate.yaml:22:17: plugin type 'latency-scorer' is not supported yet; ignored "
              "(ignore_unsupported_plugins)",
          });
    // The profile keeps what is implemented.
    REQUIRE(r.scheduler->scorers().size() == 1);
    CHECK(r.scheduler->scorers()[0].scorer->type() == "queue-scorer");
}

TEST_CASE("compat: ignore_unsupported_plugins never hides a typo") {
    const auto r = build(config_text("    ignore_unsupported_plugins: true\n", R"(      plugins:
        - type: queue-scoer
)"));
    CHECK_FALSE(r.scheduler);
    CHECK(strings(r.errors) == std::vector<std::string>{
                                   "infergate.yaml:19:17: unknown plugin type 'queue-scoer' (did you mean "
                                   "'queue-scorer'?)"});
}

TEST_CASE("compat: ignore_unsupported_plugins must be a boolean") {
    const auto loaded = config::load_config_string(
        config_text("    ignore_unsupported_plugins: yes please\n", "      plugins:\n        - type: queue-scorer\n"),
        "infergate.yaml");
    REQUIRE(loaded.errors.size() == 1);
    CHECK(loaded.errors[0].to_string() ==
          "infergate.yaml:16:33: pools[0].ignore_unsupported_plugins must be true or false, got 'yes please'");
}
