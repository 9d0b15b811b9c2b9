// YAML text -> config::Node, with 1-based marks on every key and value.
//
// yaml-cpp's own YAML::Node silently keeps only one of two equal keys and
// loses key positions, so we drive YAML::Parser with our own event handler.
// Internal to config/; not part of the public API.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/loader.hpp"

namespace infergate::config {

// Parses exactly one YAML document. Returns the tree when it is usable for
// validation (duplicate keys are reported but the first occurrence is kept);
// returns nullopt after a syntax error, an anchor/alias (not supported: write
// the value out, or share a scheduler through a file) or a second document.
// An empty text yields a Node of kind null. Never throws.
std::optional<Node> parse_yaml(const std::string& text, const std::string& file,
                               std::vector<ConfigError>& errors);

// Reads a whole (config-sized, at most 16 MiB) file. On failure returns
// false and sets `why` to strerror's text or "file is too large".
bool read_text_file(const std::string& path, std::string& out, std::string& why);

}  // namespace infergate::config
