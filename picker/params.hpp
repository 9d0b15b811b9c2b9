// Validation of one plugin's `parameters` (a config::Node map), shared by
// every plugin factory. Problems become config::ConfigError values with the
// file:line:col of the offending key or value; reading never throws.
//
// Usage, in a factory: ask for each parameter the plugin knows (each ask
// also records the name as known), then the registry calls finish(), which
// reports every key that nobody asked for as unknown.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/loader.hpp"

namespace infergate::picker {

class ParamReader {
public:
    // `file` names the config file in errors whose marks carry no file.
    ParamReader(const config::PluginSpec& spec, const std::string& file,
                std::vector<config::ConfigError>& errors);

    // A reader over the map under `key` (e.g. the session-affinity scorer's
    // encodedEndpointHeaderConfig); when the key is absent every ask on it
    // returns its fallback. Call finish() on it too.
    ParamReader object(std::string_view key);
    // The raw node under `key` (recorded as known), for shapes the typed
    // readers do not cover; null when absent.
    const config::Node* raw(std::string_view key) { return value(key); }
    // A reader over `node` (e.g. one item of a list got through raw()),
    // naming its keys "<label>.<key>" in messages. Call finish() on it too.
    ParamReader nested(const config::Node& node, std::string_view label);
    // A duration written as Go does ("200ms", "1.5s", "2m"), or a bare
    // number of `bare_unit`s. Must be > 0.
    std::chrono::nanoseconds duration(std::string_view key, std::chrono::nanoseconds fallback,
                                      std::chrono::nanoseconds bare_unit);

    // Each returns `fallback` when the key is absent, or after reporting a
    // wrong type or an out-of-range value.
    int64_t integer(std::string_view key, int64_t fallback, int64_t min, int64_t max);
    double number(std::string_view key, double fallback, double min, double max);
    std::string string(std::string_view key, std::string fallback);
    // YAML's true/false (unquoted).
    bool boolean(std::string_view key, bool fallback);
    // A list of strings; empty when absent.
    std::vector<std::string> string_list(std::string_view key);
    // "parameter 'KEY' of plugin 'NAME'", the prefix of every message.
    std::string where(std::string_view key) const;
    // Where the parameters are, for errors about the whole set.
    const config::Mark& mark() const { return mark_; }

    // Reports the keys never asked for. Call once, after the factory.
    void finish();
    // No error reported through this reader so far.
    bool ok() const { return errors_.size() == errors_at_start_; }

    // Records an error at `mark` (file filled in when missing).
    void error(const config::Mark& mark, std::string message);

private:
    ParamReader(const config::Node& params, const config::Mark& mark, std::string plugin, std::string type,
                std::string prefix, const std::string& file, std::vector<config::ConfigError>& errors);
    const config::Node* value(std::string_view key);

    const config::Node& params_;
    config::Mark mark_;
    std::string plugin_;  // the plugin's name, for messages
    std::string type_;
    std::string prefix_;  // "outer." for nested readers
    const std::string& file_;
    std::vector<config::ConfigError>& errors_;
    size_t errors_at_start_;
    std::vector<bool> used_;                 // per parameters entry
    std::vector<std::string_view> known_;    // names asked for, for suggestions
    bool is_map_ = false;
};

// A plugin's name: `name` as configured, else its type (the reference's
// applyStaticDefaults, pkg/epp/config/loader/defaults.go).
inline const std::string& plugin_name(const config::PluginSpec& spec) {
    return spec.name.empty() ? spec.type : spec.name;
}

// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);

// The closest of `names` to `word`, or empty when none is close enough to
// be a plausible typo (distance at most max(2, size/3)).
std::string_view closest_name(std::string_view word, const std::vector<std::string_view>& names);

// `mark` with `file` filled in when the mark has none.
config::Mark with_file(config::Mark mark, const std::string& file);

}  // namespace infergate::picker
