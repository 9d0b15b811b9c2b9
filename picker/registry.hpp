// The one explicit registry of plugin types (no static initialisers: they
// vanish from static libraries). Mirrors the reference's
// registerInTreePlugins (llm-d-router ebab687927f5, cmd/epp/runner/runner.go).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/loader.hpp"
#include "picker/params.hpp"
#include "picker/plugin.hpp"

namespace infergate::picker {

using PluginFactory = std::unique_ptr<Plugin> (*)(const config::PluginSpec&, ParamReader&);

struct PluginTypeInfo {
    std::string_view type;  // e.g. "queue-scorer"
    PluginKind kind;
    PluginFactory make;
};

// The types build_scheduler can build, sorted by name.
std::span<const PluginTypeInfo> implemented_plugin_types();

// Types the reference registers that infergate does not implement yet,
// sorted. A config naming one gets "not supported yet", not "unknown".
std::span<const std::string_view> reference_only_plugin_types();

// Known to the reference, not implemented by infergate.
bool is_reference_only_type(std::string_view type);

// nullptr when `type` is not implemented.
const PluginTypeInfo* find_plugin_type(std::string_view type);

// Builds one plugin, validating its type and parameters. On failure returns
// null and appends errors (file:line:col from the spec's marks, `file`
// when a mark has none).
// A data producer of type `type` with default parameters, named after its
// type, for a scorer that names a producer the config does not list (the
// reference's data-layer DAG does the same). Null when `type` is not an
// implemented producer type.
std::unique_ptr<Plugin> make_default_producer(std::string_view type);

std::unique_ptr<Plugin> make_plugin(const config::PluginSpec& spec, const std::string& file,
                                    std::vector<config::ConfigError>& errors);

}  // namespace infergate::picker
