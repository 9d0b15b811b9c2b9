// Loading and validating infergate's YAML configuration.
//
// Every problem found is reported, not just the first, each with the file,
// 1-based line and column, and the key involved. Loading never throws.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace infergate::config {

struct ConfigError {
    Mark mark;
    std::string message;  // names the key, e.g. "unknown key 'foo' in route"
    // "FILE:LINE:COL: message"
    std::string to_string() const;
};

struct LoadResult {
    std::shared_ptr<const Config> config;  // null when errors is not empty
    std::vector<ConfigError> errors;
    bool ok() const { return errors.empty() && config != nullptr; }
};

// Reads and validates `path`. Relative paths inside (a pool's scheduler
// file) are resolved against the directory of `path`.
LoadResult load_config_file(const std::string& path);

// Same, from text; `name` stands for the file name in marks (tests).
LoadResult load_config_string(const std::string& text, const std::string& name);

// What a reload may not change (listeners, admin, worker count): one
// message per difference, empty when `next` can replace `running`.
std::vector<std::string> restart_required_changes(const Config& running, const Config& next);

}  // namespace infergate::config
