// Small accessors declared in config.hpp and loader.hpp.
#include "config/config.hpp"

#include <fmt/format.h>

#include "config/loader.hpp"

namespace infergate::config {

const Node* Node::find(const std::string& key) const {
    if (kind != Kind::map) return nullptr;
    for (const auto& [k, v] : entries)
        if (k == key) return &v;
    return nullptr;
}

std::string Address::to_string() const {
    // A host holding ':' can only be an IPv6 literal (names and IPv4 cannot).
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

const Pool* Config::find_pool(const std::string& name) const {
    for (const auto& p : pools)
        if (p.name == name) return &p;
    return nullptr;
}

const Objective* Config::find_objective(const std::string& name) const {
    for (const auto& o : objectives)
        if (o.name == name) return &o;
    return nullptr;
}

std::string ConfigError::to_string() const {
    const std::string& file = mark.file.empty() ? std::string("<config>") : mark.file;
    if (mark.line <= 0) return fmt::format("{}: {}", file, message);
    return fmt::format("{}:{}:{}: {}", file, mark.line, mark.col, message);
}

}  // namespace infergate::config
