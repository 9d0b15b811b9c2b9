// Shared fixtures for the picker unit tests.
#pragma once

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "config/loader.hpp"
#include "picker/endpoint.hpp"

namespace picker_test {

namespace cfg = infergate::config;
namespace pk = infergate::picker;

inline std::string read_data(const std::string& name) {
    std::ifstream in(std::string(PICKER_TEST_DATA) + "/" + name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline std::shared_ptr<pk::EndpointState> endpoint(const std::string& host, uint16_t port) {
    cfg::Endpoint e;
    e.address.host = host;
    e.address.port = port;
    return std::make_shared<pk::EndpointState>("pool", std::move(e));
}

// An infergate config (17 lines) ending inside pool `p`, at its keys'
// indentation: tests append `    scheduler:` and the rest, so marks in
// their YAML start at line 18.
inline constexpr const char* kPoolConfigHead = R"(listeners:
  - name: main
    address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
routes:
  - name: all
    match:
      path_prefix: /
    backends:
      - pool: p
pools:
  - name: p
    endpoints:
      - address: 127.0.0.1:8001
)";

// kPoolConfigHead + `pool_tail`, loaded as "infergate.yaml" (or `name`).
inline cfg::LoadResult load_pool_config(const std::string& pool_tail, const std::string& name = "infergate.yaml") {
    return cfg::load_config_string(std::string(kPoolConfigHead) + pool_tail, name);
}

inline cfg::Mark mark(int line, int col) { return cfg::Mark{"epp.yaml", line, col}; }

inline cfg::Node scalar(std::string v, int line, int col, bool quoted = false) {
    cfg::Node n;
    n.kind = cfg::Node::Kind::scalar;
    n.scalar = std::move(v);
    n.quoted = quoted;
    n.mark = mark(line, col);
    return n;
}

// A map node; each entry's key sits at (line, 7) and its value at (line, col of value).
inline cfg::Node map(std::vector<std::pair<std::string, cfg::Node>> entries, int line, int col) {
    cfg::Node n;
    n.kind = cfg::Node::Kind::map;
    n.mark = mark(line, col);
    for (auto& [k, v] : entries) {
        n.key_marks.push_back(mark(v.mark.line, 7));
        n.entries.emplace_back(k, std::move(v));
    }
    return n;
}

// A plugins entry at `line`: "- type: X" with the entry at col 3, the type value at col 9.
inline cfg::PluginSpec plugin(std::string type, int line, std::string name = "", cfg::Node params = {}) {
    cfg::PluginSpec s;
    s.type = std::move(type);
    s.name = std::move(name);
    s.parameters = std::move(params);
    s.mark = mark(line, 3);
    s.type_mark = mark(line, 9);
    return s;
}

inline cfg::ProfilePluginRef ref(std::string name, int line, std::optional<double> weight = std::nullopt) {
    return cfg::ProfilePluginRef{std::move(name), weight, mark(line, 5)};
}

inline cfg::SchedulingProfile profile(std::string name, int line, std::vector<cfg::ProfilePluginRef> refs) {
    return cfg::SchedulingProfile{std::move(name), std::move(refs), mark(line, 3)};
}

inline cfg::SchedulerConfig scheduler_config(std::vector<cfg::PluginSpec> plugins,
                                             std::vector<cfg::SchedulingProfile> profiles) {
    cfg::SchedulerConfig c;
    c.present = true;
    c.source_file = "epp.yaml";
    c.plugins = std::move(plugins);
    c.profiles = std::move(profiles);
    c.mark = mark(1, 1);
    return c;
}

}  // namespace picker_test
