// Node tree -> Config, one reader per section. Internal to config/.
// Each function reports every problem it finds into `d` and fills what it
// could; the caller discards the Config when any error was reported.
#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"
#include "config/reader.hpp"

namespace infergate::config {

// The whole document. `base_dir` resolves relative scheduler file paths.
void read_config(Diag& d, const Node& root, const std::string& base_dir, Config& out);

void read_routes(Diag& d, const Node& list, const std::string& path, std::vector<Route>& out);   // routes.cpp
void read_pools(Diag& d, const Node& list, const std::string& path, const std::string& base_dir,
                std::vector<Pool>& out);                                                        // pools.cpp

// `tls` of a listener and of a pool (tls.cpp). Relative file paths are
// resolved against `base_dir`.
void read_listener_tls(Diag& d, const Node& n, const std::string& path, const std::string& base_dir,
                       ListenerTls& out);
void read_upstream_tls(Diag& d, const Node& n, const std::string& path, const std::string& base_dir,
                       UpstreamTls& out);

// After the pools: rules reference them by name.
void read_model_rewrites(Diag& d, const Node& list, const std::string& path, const std::vector<Pool>& pools,
                         std::vector<ModelRewrite>& out);  // model_rewrites.cpp
// Top-level `objectives`, and a signed priority (int32) as objectives and
// routes write it (objectives.cpp).
void read_objectives(Diag& d, const Node& list, const std::string& path, std::vector<Objective>& out);
std::optional<int32_t> read_priority(Diag& d, const Node& n, const std::string& path);
// After every section is read: objective pools exist; a route's objective
// exists (and fits its pools), and its priority becomes the route's.
void check_objectives(Diag& d, const Node& root, Config& c);

// A pool's `scheduler`: an inline EndpointPickerConfig map, or a string
// naming a YAML file (relative to `base_dir`) that holds one.
void read_scheduler(Diag& d, const Node& value, const std::string& path, const std::string& base_dir,
                    const std::string& config_file, SchedulerConfig& out);  // scheduler_section.cpp

// The EndpointPickerConfig document itself (inline or file root).
void read_epp(Diag& d, const Node& doc, const std::string& path, SchedulerConfig& out);

}  // namespace infergate::config
