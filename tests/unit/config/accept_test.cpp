// Acceptance: the documented example loads field by field; defaults apply;
// every file in config/examples loads; reload restrictions.
#include <doctest/doctest.h>

#include <filesystem>

#include "config/validate.hpp"
#include "config/yaml_tree.hpp"
#include "helpers.hpp"

using namespace cfgtest;
using namespace std::chrono_literals;

namespace {

const char* full_example = R"(workers: 0                     # 0 = one per core
listeners:
  - name: main
    address: 127.0.0.1:8080    # port 0 = any free port
admin:
  address: 127.0.0.1:9901
access_log:
  path: stdout                 # stdout | off | /path/file
trusted_proxies: [127.0.0.1/32, "::1/128"]
limits:
  max_header_bytes: 65536
  max_headers: 100
  max_uri_bytes: 8192
  max_body_bytes: 16777216
  max_connections_per_worker: 10000
  max_upstream_requests: 10000
timeouts:
  header_read: 10s
  body_read: 60s
  keepalive_idle: 60s
  upstream_connect: 2s
  upstream_response_header: 60s
  stream_idle: 60s
  upstream_keepalive_idle: 4s
  drain: 30s
routes:
  - name: chat
    match:
      path_prefix: /v1/
      headers:
        - name: X-Tenant
          value: team-a
      model: llama-3.1-8b
    backends:
      - pool: stable
        weight: 90
      - pool: canary
        weight: 10
        model_rewrite: llama-3.1-8b-v2
pools:
  - name: stable
    engine: vllm
    metrics_path: /metrics
    scrape_interval: 50ms
    metrics_staleness: 200ms
    failure_mode: fail_open
    endpoints:
      - address: 127.0.0.1:8001
        labels: {role: decode}
    scheduler:
      plugins:
        - type: queue-scorer
        - type: kv-cache-utilization-scorer
        - type: max-score-picker
      schedulingProfiles:
        - name: default
          plugins:
            - pluginRef: queue-scorer
              weight: 1
            - pluginRef: kv-cache-utilization-scorer
            - pluginRef: max-score-picker
  - name: canary
    engine: sglang
    metrics_path: /stats
    scrape_interval: 1s
    metrics_staleness: 1m
    failure_mode: fail_close
    endpoints:
      - address: "[::1]:8002"
      - address: model-b.internal:8003
)";

}  // namespace

TEST_CASE("the full example lands field by field") {
    auto r = expect_ok(full_example);
    const Config& c = *r.config;
    CHECK(c.file == "t.yaml");
    CHECK(c.workers == 0);
    REQUIRE(c.listeners.size() == 1);
    CHECK(c.listeners[0].name == "main");
    CHECK(c.listeners[0].address.host == "127.0.0.1");
    CHECK(c.listeners[0].address.port == 8080);
    CHECK(c.listeners[0].mark.line == 3);
    CHECK(c.listeners[0].mark.col == 5);
    CHECK(c.admin.address.to_string() == "127.0.0.1:9901");
    CHECK(c.access_log.path == "stdout");
    REQUIRE(c.trusted_proxies.size() == 2);
    CHECK(c.trusted_proxies[0].text == "127.0.0.1/32");
    CHECK(c.trusted_proxies[0].prefix_len == 32);
    CHECK(c.trusted_proxies[1].v6);
    CHECK(c.trusted_proxies[1].prefix_len == 128);
    CHECK(c.limits.max_header_bytes == 65536);
    CHECK(c.limits.max_headers == 100);
    CHECK(c.limits.max_uri_bytes == 8192);
    CHECK(c.limits.max_body_bytes == 16777216);
    CHECK(c.limits.max_connections_per_worker == 10000);
    CHECK(c.limits.max_upstream_requests == 10000);
    CHECK(c.timeouts.header_read == 10s);
    CHECK(c.timeouts.body_read == 60s);
    CHECK(c.timeouts.keepalive_idle == 60s);
    CHECK(c.timeouts.upstream_connect == 2s);
    CHECK(c.timeouts.upstream_response_header == 60s);
    CHECK(c.timeouts.stream_idle == 60s);
    CHECK(c.timeouts.upstream_keepalive_idle == 4s);
    CHECK(c.timeouts.drain == 30s);

    REQUIRE(c.routes.size() == 1);
    const Route& rt = c.routes[0];
    CHECK(rt.name == "chat");
    CHECK(rt.mark.line == 27);
    CHECK(rt.match.path_kind == RouteMatch::PathKind::prefix);
    CHECK(rt.match.path == "/v1/");
    REQUIRE(rt.match.headers.size() == 1);
    CHECK(rt.match.headers[0].name == "x-tenant");  // lower-cased
    CHECK(rt.match.headers[0].value == "team-a");
    CHECK(rt.match.model == "llama-3.1-8b");
    REQUIRE(rt.backends.size() == 2);
    CHECK(rt.backends[0].pool == "stable");
    CHECK(rt.backends[0].weight == 90);
    CHECK_FALSE(rt.backends[0].model_rewrite);
    CHECK(rt.backends[1].pool == "canary");
    CHECK(rt.backends[1].weight == 10);
    CHECK(rt.backends[1].model_rewrite == "llama-3.1-8b-v2");

    REQUIRE(c.pools.size() == 2);
    const Pool& s = c.pools[0];
    CHECK(c.find_pool("stable") == &s);
    CHECK(s.engine == Engine::vllm);
    CHECK(s.metrics_path == "/metrics");
    CHECK(s.scrape_interval == 50ms);
    CHECK(s.metrics_staleness == 200ms);
    CHECK(s.failure_mode == FailureMode::fail_open);
    REQUIRE(s.endpoints.size() == 1);
    CHECK(s.endpoints[0].address.to_string() == "127.0.0.1:8001");
    CHECK(s.endpoints[0].labels == std::map<std::string, std::string>{{"role", "decode"}});
    CHECK(s.scheduler.present);
    CHECK(s.scheduler.plugins.size() == 3);
    REQUIRE(s.scheduler.profiles.size() == 1);
    CHECK(s.scheduler.profiles[0].plugins.size() == 3);
    CHECK(s.scheduler.profiles[0].plugins[0].weight == 1.0);

    const Pool* k = c.find_pool("canary");
    REQUIRE(k);
    CHECK(k->engine == Engine::sglang);
    CHECK(k->metrics_path == "/stats");
    CHECK(k->scrape_interval == 1s);
    CHECK(k->metrics_staleness == 1min);
    CHECK(k->failure_mode == FailureMode::fail_close);
    CHECK(k->endpoints[0].address.host == "::1");
    CHECK(k->endpoints[0].address.to_string() == "[::1]:8002");
    CHECK(k->endpoints[1].address.host == "model-b.internal");
    CHECK_FALSE(k->scheduler.present);
    CHECK(c.find_pool("nope") == nullptr);
}

TEST_CASE("defaults apply") {
    auto r = expect_ok(with("", ""));
    const Config& c = *r.config;
    CHECK(c.workers == 0);
    CHECK(c.admin.address.to_string() == "127.0.0.1:9901");
    CHECK(c.access_log.path == "stdout");
    CHECK(c.trusted_proxies.empty());
    const Limits defaults_l;
    CHECK(c.limits.max_header_bytes == defaults_l.max_header_bytes);
    CHECK(c.limits.max_body_bytes == defaults_l.max_body_bytes);
    CHECK(c.timeouts.header_read == 10s);
    CHECK(c.timeouts.upstream_keepalive_idle == 4s);
    CHECK(c.timeouts.drain == 30s);
    const Route& rt = c.routes[0];
    CHECK(rt.match.path_kind == RouteMatch::PathKind::prefix);
    CHECK(rt.match.path == "/");
    CHECK(rt.match.headers.empty());
    CHECK_FALSE(rt.match.model);
    CHECK(rt.backends[0].weight == 1);
    const Pool& p = c.pools[0];
    CHECK(p.engine == Engine::vllm);
    CHECK(p.metrics_path == "/metrics");
    CHECK(p.scrape_interval == 50ms);
    CHECK(p.metrics_staleness == 200ms);
    CHECK(p.failure_mode == FailureMode::fail_open);
    CHECK(p.endpoints[0].labels.empty());
}

TEST_CASE("path_exact and a quoted IPv6 listener") {
    auto r = expect_ok("listeners:\n  - name: v6\n    address: \"[::]:0\"\n" + std::string(
                           "routes:\n  - name: r\n    match: {path_exact: /v1/chat/completions}\n    backends: [{pool: p}]\n"
                           "pools: [{name: p, endpoints: [{address: 'h:1'}]}]\n"));
    CHECK(r.config->listeners[0].address.to_string() == "[::]:0");
    CHECK(r.config->routes[0].match.path_kind == RouteMatch::PathKind::exact);
    CHECK(r.config->routes[0].match.path == "/v1/chat/completions");
}

TEST_CASE("every file in config/examples loads without errors") {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(INFERGATE_CONFIG_EXAMPLES)) {
        if (entry.path().extension() != ".yaml") continue;
        const std::string file = entry.path().string();
        CAPTURE(file);
        ++count;
        std::string text;
        std::string why;
        REQUIRE(read_text_file(file, text, why));
        // A top-level kind (at the start of a line; an inline scheduler's is
        // indented) marks a scheduler file, not a proxy config: validate it
        // as one.
        if (text.rfind("kind: EndpointPickerConfig", 0) == 0 ||
            text.find("\nkind: EndpointPickerConfig") != std::string::npos) {
            std::vector<ConfigError> errors;
            auto doc = parse_yaml(text, file, errors);
            REQUIRE(doc);
            SchedulerConfig s;
            Diag d{errors};
            read_epp(d, *doc, "", s);
            INFO((errors.empty() ? std::string() : errors[0].to_string()));
            CHECK(errors.empty());
            continue;
        }
        auto r = load_config_file(file);
        INFO(all_errors(r));
        CHECK(r.ok());
    }
    CHECK(count >= 10);
}

TEST_CASE("the scheduler examples hold the plugins and weights their comments promise") {
    // Each: file, pool's plugin types in order, then "pluginRef=weight" for
    // the weighted entries of the default profile. (test_cli.py also runs
    // --check-config on every example, which builds each scheduler.)
    struct Case {
        const char* file;
        std::vector<std::string> types;
        std::vector<std::string> weights;
    };
    const Case cases[] = {
        {"intelligent-inference-scheduling.yaml",
         {"single-profile-handler", "decode-filter", "approx-prefix-cache-producer", "queue-scorer",
          "kv-cache-utilization-scorer", "prefix-cache-scorer", "max-score-picker"},
         {"queue-scorer=2", "kv-cache-utilization-scorer=2", "prefix-cache-scorer=3"}},
        {"session-affinity.yaml",
         {"session-affinity-scorer", "queue-scorer", "kv-cache-utilization-scorer", "max-score-picker"},
         {"session-affinity-scorer=4"}},
        {"burst-aware.yaml",
         {"burst-aware-prefix-producer", "prefix-cache-scorer", "queue-scorer", "kv-cache-utilization-scorer",
          "decode-filter", "max-score-picker", "single-profile-handler"},
         {"queue-scorer=2", "kv-cache-utilization-scorer=2", "prefix-cache-scorer=3"}},
        {"lora.yaml",
         {"label-selector-filter", "lora-affinity-scorer", "queue-scorer", "kv-cache-utilization-scorer",
          "max-score-picker"},
         {"lora-affinity-scorer=2"}},
    };
    for (const Case& c : cases) {
        CAPTURE(c.file);
        auto r = load_config_file(std::string(INFERGATE_CONFIG_EXAMPLES) + "/" + c.file);
        INFO(all_errors(r));
        REQUIRE(r.ok());
        REQUIRE(r.config->pools.size() == 1);
        const SchedulerConfig& s = r.config->pools[0].scheduler;
        std::vector<std::string> types;
        for (const auto& p : s.plugins) types.push_back(p.type);
        CHECK(types == c.types);
        REQUIRE(s.profiles.size() == 1);
        std::vector<std::string> weights;
        for (const auto& ref : s.profiles[0].plugins)
            if (ref.weight) weights.push_back(ref.plugin_ref + "=" + std::to_string(int(*ref.weight)));
        CHECK(weights == c.weights);
    }
    auto iis = load_config_file(std::string(INFERGATE_CONFIG_EXAMPLES) + "/intelligent-inference-scheduling.yaml");
    REQUIRE(iis.ok());
    const auto& producer = iis.config->pools[0].scheduler.plugins[2].parameters;
    REQUIRE(producer.find("blockSizeTokens") != nullptr);
    REQUIRE(producer.find("lruCapacityPerServer") != nullptr);
    CHECK(producer.find("blockSizeTokens")->scalar == "16");  // the reference's default
    CHECK(producer.find("lruCapacityPerServer")->scalar == "31250");
}

TEST_CASE("the demo example says what the README promises") {
    auto r = load_config_file(std::string(INFERGATE_CONFIG_EXAMPLES) + "/demo.yaml");
    REQUIRE(r.ok());
    const Config& c = *r.config;
    CHECK(c.listeners[0].address.to_string() == "127.0.0.1:8080");
    CHECK(c.admin.address.to_string() == "127.0.0.1:9901");
    REQUIRE(c.pools.size() == 1);
    CHECK(c.pools[0].endpoints.size() == 4);
    CHECK(c.pools[0].endpoints[3].address.to_string() == "127.0.0.1:8004");
    CHECK(c.pools[0].scheduler.plugins.size() == 4);
    auto split = load_config_file(std::string(INFERGATE_CONFIG_EXAMPLES) + "/split.yaml");
    REQUIRE(split.ok());
    CHECK(split.config->routes[0].backends[1].model_rewrite == "llama-3.1-8b-v2");
    auto mr = load_config_file(std::string(INFERGATE_CONFIG_EXAMPLES) + "/model-rewrite.yaml");
    REQUIRE(mr.ok());
    REQUIRE(mr.config->model_rewrites.size() == 1);
    CHECK(mr.config->model_rewrites[0].pool == "food");
    CHECK(mr.config->model_rewrites[0].rules[0].models == std::vector<std::string>{"foodreview"});
    CHECK(mr.config->model_rewrites[0].rules[0].targets[1].weight == 10);
    auto epp = load_config_file(std::string(INFERGATE_CONFIG_EXAMPLES) + "/epp-file.yaml");
    REQUIRE(epp.ok());
    CHECK(epp.config->pools[0].scheduler.source_file == std::string(INFERGATE_CONFIG_EXAMPLES) + "/epp-default.yaml");
    CHECK(epp.config->pools[0].scheduler.plugins.size() == 5);
}

TEST_CASE("an unreadable config file is an error, not an exception") {
    auto r = load_config_file("/nonexistent/infergate.yaml");
    CHECK_FALSE(r.ok());
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].to_string() ==
          "/nonexistent/infergate.yaml: cannot read config file '/nonexistent/infergate.yaml': No such file or directory");
    auto dir = load_config_file("/tmp");
    REQUIRE(dir.errors.size() == 1);
    CHECK(dir.errors[0].message.find("Is a directory") != std::string::npos);
}

TEST_CASE("ConfigError::to_string") {
    CHECK(ConfigError{{"a.yaml", 3, 7}, "boom"}.to_string() == "a.yaml:3:7: boom");
    CHECK(ConfigError{{"a.yaml", 0, 0}, "boom"}.to_string() == "a.yaml: boom");
}

TEST_CASE("restart_required_changes") {
    auto a = expect_ok(listener + "workers: 2\nadmin: {address: '127.0.0.1:9901'}\n");
    CHECK(restart_required_changes(*a.config, *a.config).empty());
    auto b = expect_ok("listeners:\n  - name: main\n    address: 127.0.0.1:1\n  - name: tls\n    address: 127.0.0.1:2\n"
                       "workers: 4\nadmin: {address: '127.0.0.1:9902'}\n");
    auto changes = restart_required_changes(*a.config, *b.config);
    REQUIRE(changes.size() == 5);
    CHECK(changes[0] == "listener count changed from 1 to 2: restart required");
    CHECK(changes[1] == "listener 'main' address changed from 127.0.0.1:0 to 127.0.0.1:1: restart required");
    CHECK(changes[2] == "listener 'tls' added: restart required");
    CHECK(changes[3] == "admin address changed from 127.0.0.1:9901 to 127.0.0.1:9902: restart required");
    CHECK(changes[4] == "workers changed from 2 to 4: restart required");
    auto c = expect_ok("listeners:\n  - name: other\n    address: 127.0.0.1:0\nworkers: 2\n");
    auto renamed = restart_required_changes(*a.config, *c.config);
    REQUIRE(renamed.size() == 2);
    CHECK(renamed[0] == "listener 'main' removed: restart required");
    CHECK(renamed[1] == "listener 'other' added: restart required");
    // Routes, pools, limits and timeouts reload freely.
    auto d = expect_ok(with("", "    engine: sglang\n") + "workers: 2\nlimits: {max_headers: 5}\n");
    CHECK(restart_required_changes(*a.config, *d.config).empty());
}
