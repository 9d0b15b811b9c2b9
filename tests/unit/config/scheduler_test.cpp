// The pool scheduler section: inline and file EndpointPickerConfig.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "helpers.hpp"

using namespace cfgtest;

namespace {

// A pool `p` whose scheduler is `sched` (lines at indent 4, under "scheduler:").
std::string sched(const std::string& body) { return with_pool("    scheduler:\n" + body); }

const std::string plugins =
    "      plugins:\n"
    "        - type: queue-scorer\n"
    "        - type: max-score-picker\n";

// A fresh directory under /tmp, removed at scope exit.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/infergate-config-test-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(path / name) << text;
        return (path / name).string();
    }
};

}  // namespace

TEST_CASE("inline scheduler lands in the pool") {
    auto r = expect_ok(sched(
        "      apiVersion: llm-d.ai/v1alpha1\n"
        "      kind: EndpointPickerConfig\n"
        "      plugins:\n"
        "        - type: prefix-cache-scorer\n"
        "          name: prefix\n"
        "          parameters:\n"
        "            blockSize: 64\n"
        "            maxPrefixBlocksToMatch: 256\n"
        "        - type: max-score-picker\n"
        "      schedulingProfiles:\n"
        "        - name: default\n"
        "          plugins:\n"
        "            - pluginRef: prefix\n"
        "              weight: 2.5\n"
        "            - pluginRef: max-score-picker\n"
        "      featureGates: [x]\n"
        "      saturationDetector: {queueDepthThreshold: 5}\n"));
    const auto& s = r.config->pools[0].scheduler;
    CHECK(s.present);
    CHECK(s.source_file == "t.yaml");
    CHECK(s.mark.line == 13);
    REQUIRE(s.plugins.size() == 2);
    CHECK(s.plugins[0].type == "prefix-cache-scorer");
    CHECK(s.plugins[0].name == "prefix");
    CHECK(s.plugins[0].mark.line == 16);
    CHECK(s.plugins[0].mark.col == 11);
    CHECK(s.plugins[0].type_mark.line == 16);
    CHECK(s.plugins[0].type_mark.col == 17);
    REQUIRE(s.plugins[0].parameters.kind == Node::Kind::map);
    REQUIRE(s.plugins[0].parameters.find("blockSize"));
    CHECK(s.plugins[0].parameters.find("blockSize")->scalar == "64");
    CHECK(s.plugins[0].parameters.find("blockSize")->mark.line == 19);
    CHECK(s.plugins[1].name == "max-score-picker");  // defaults to type
    CHECK(s.plugins[1].parameters.kind == Node::Kind::null);
    REQUIRE(s.profiles.size() == 1);
    CHECK(s.profiles[0].name == "default");
    REQUIRE(s.profiles[0].plugins.size() == 2);
    CHECK(s.profiles[0].plugins[0].plugin_ref == "prefix");
    CHECK(s.profiles[0].plugins[0].weight == 2.5);
    CHECK_FALSE(s.profiles[0].plugins[1].weight.has_value());
    CHECK(s.profiles[0].plugins[1].mark.line == 27);
}

TEST_CASE("no scheduler section: present is false") {
    auto r = expect_ok(with_pool(""));
    CHECK_FALSE(r.config->pools[0].scheduler.present);
}

TEST_CASE("scheduler rejections") {
    expect_error(sched("      - a\n"), "pools[0].scheduler must be a map (inline EndpointPickerConfig) or a file path, got a list");
    expect_error(sched("      kind: EndpointPickerConfig\n"), "missing required key 'plugins' in pools[0].scheduler");
    expect_error(sched("      apiVersion: v1\n" + plugins),
                 "pools[0].scheduler.apiVersion must be 'llm-d.ai/v1alpha1' or 'inference.networking.x-k8s.io/v1alpha1', got 'v1'");
    expect_error(sched("      kind: Pod\n" + plugins), "pools[0].scheduler.kind must be 'EndpointPickerConfig', got 'Pod'");
    expect_error(sched("      plugin: []\n" + plugins), "unknown key 'plugin' in pools[0].scheduler; did you mean 'plugins'?");
    expect_error(sched("      plugins: []\n"), "pools[0].scheduler.plugins must hold at least one plugin");
    expect_error(sched("      plugins: queue-scorer\n"), "pools[0].scheduler.plugins must be a list");
    expect_error(sched("      plugins:\n        - name: x\n"), "missing required key 'type' in pools[0].scheduler.plugins[0]");
    expect_error(sched("      plugins:\n        - type: {}\n"), "pools[0].scheduler.plugins[0].type must be a string, got a map");
    expect_error(sched("      plugins:\n        - type: a\n          parameter: {}\n"),
                 "unknown key 'parameter' in pools[0].scheduler.plugins[0]; did you mean 'parameters'?");
    auto dup = expect_error(sched("      plugins:\n        - type: queue-scorer\n        - type: queue-scorer\n"),
                            "duplicate plugin name 'queue-scorer'");
    CHECK(dup.to_string() ==
          "t.yaml:15:17: pools[0].scheduler.plugins[1].name: duplicate plugin name 'queue-scorer' (first at line 14, column 17)");
    expect_error(sched("      plugins:\n        - type: a\n          name: [x]\n"),
                 "pools[0].scheduler.plugins[0].name must be a string, got a list");
    expect_error(sched("      plugins:\n        - type: a\n          name: x\n        - type: b\n          name: x\n"),
                 "duplicate plugin name 'x'");
    expect_error(sched(plugins + "      schedulingProfiles: {}\n"), "pools[0].scheduler.schedulingProfiles must be a list");
    expect_error(sched(plugins + "      schedulingProfiles:\n        - plugins: [{pluginRef: queue-scorer}]\n"),
                 "missing required key 'name' in pools[0].scheduler.schedulingProfiles[0]");
    expect_error(sched(plugins + "      schedulingProfiles:\n        - name: a\n"),
                 "missing required key 'plugins' in pools[0].scheduler.schedulingProfiles[0]");
    expect_error(sched(plugins + "      schedulingProfiles:\n        - name: a\n          plugins: []\n"),
                 "schedulingProfiles[0].plugins must hold at least one pluginRef");
    expect_error(sched(plugins +
                       "      schedulingProfiles:\n        - name: a\n          plugins: [{pluginRef: queue-scorer}]\n"
                       "        - name: a\n          plugins: [{pluginRef: queue-scorer}]\n"),
                 "schedulingProfiles[1].name: duplicate profile name 'a'");
    auto dangling = expect_error(
        sched(plugins + "      schedulingProfiles:\n        - name: a\n          plugins:\n            - pluginRef: queue-scorr\n"),
        "no plugin named 'queue-scorr' in plugins; did you mean 'queue-scorer'?");
    CHECK(dangling.mark.line == 19);
    CHECK(dangling.mark.col == 26);
    expect_error(sched(plugins + "      schedulingProfiles:\n        - name: a\n          plugins:\n            - weight: 1\n"),
                 "missing required key 'pluginRef' in pools[0].scheduler.schedulingProfiles[0].plugins[0]");
    expect_error(sched(plugins +
                       "      schedulingProfiles:\n        - name: a\n          plugins:\n"
                       "            - pluginRef: queue-scorer\n              weight: heavy\n"),
                 "schedulingProfiles[0].plugins[0].weight must be a number, got 'heavy'");
    expect_error(sched(plugins +
                       "      schedulingProfiles:\n        - name: a\n          plugins:\n"
                       "            - pluginRef: queue-scorer\n              weight: -1\n"),
                 "schedulingProfiles[0].plugins[0].weight must be at least 0, got -1");
    expect_error(sched(plugins +
                       "      schedulingProfiles:\n        - name: a\n          plugins:\n"
                       "            - pluginRef: queue-scorer\n              wieght: 1\n"),
                 "unknown key 'wieght' in pools[0].scheduler.schedulingProfiles[0].plugins[0]; did you mean 'weight'?");
    expect_error(sched(plugins + "      schedulingProfiles:\n        - name: a\n          plugin: []\n"),
                 "unknown key 'plugin' in pools[0].scheduler.schedulingProfiles[0]");
}

TEST_CASE("scheduler from a file, relative to the config's directory") {
    TempDir dir;
    dir.write("epp.yaml",
              "apiVersion: inference.networking.x-k8s.io/v1alpha1\n"
              "kind: EndpointPickerConfig\n"
              "plugins:\n"
              "  - type: queue-scorer\n"
              "  - type: max-score-picker\n");
    std::string cfg = dir.write("c.yaml", with_pool("    scheduler: epp.yaml\n"));
    auto r = load_config_file(cfg);
    INFO(all_errors(r));
    REQUIRE(r.ok());
    const auto& s = r.config->pools[0].scheduler;
    CHECK(s.present);
    CHECK(s.source_file == (dir.path / "epp.yaml").string());
    REQUIRE(s.plugins.size() == 2);
    CHECK(s.plugins[1].type_mark.file == (dir.path / "epp.yaml").string());
    CHECK(s.plugins[1].type_mark.line == 5);
    CHECK(s.plugins[1].type_mark.col == 11);
}

TEST_CASE("scheduler file errors name the scheduler file") {
    TempDir dir;
    std::string epp = dir.write("epp.yaml", "plugins:\n  - type: a\n  - type: a\nflowcontrol: {}\n");
    std::string cfg = dir.write("c.yaml", with_pool("    scheduler: epp.yaml\n"));
    auto r = load_config_file(cfg);
    REQUIRE(r.errors.size() == 2);
    CHECK(r.errors[0].to_string() == epp + ":3:11: plugins[1].name: duplicate plugin name 'a' (first at line 2, column 11)");
    CHECK(r.errors[1].to_string() == epp + ":4:1: unknown key 'flowcontrol' at the top level; did you mean 'flowControl'?");

    dir.write("list.yaml", "- a\n");
    std::string cfg2 = dir.write("c2.yaml", with_pool("    scheduler: list.yaml\n"));
    auto r2 = load_config_file(cfg2);
    REQUIRE(r2.errors.size() == 1);
    CHECK(r2.errors[0].message == "the EndpointPickerConfig file must hold a map, got a list");

    dir.write("bad.yaml", "plugins: [\n");
    auto r3 = load_config_file(dir.write("c3.yaml", with_pool("    scheduler: bad.yaml\n")));
    REQUIRE(r3.errors.size() == 1);
    CHECK(r3.errors[0].mark.file == (dir.path / "bad.yaml").string());
    CHECK(r3.errors[0].message.find("YAML syntax error") == 0);
}

TEST_CASE("missing scheduler file") {
    TempDir dir;
    std::string cfg = dir.write("c.yaml", with_pool("    scheduler: nope.yaml\n"));
    auto r = load_config_file(cfg);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].to_string() == cfg + ":12:16: pools[0].scheduler: cannot read scheduler file '" +
                                         (dir.path / "nope.yaml").string() + "': No such file or directory");
    expect_error(with_pool("    scheduler: \"\"\n"), "pools[0].scheduler must not be empty");
}
