// load_config_file / load_config_string / restart_required_changes.
#include "config/loader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <tuple>
#include <filesystem>

#include "config/validate.hpp"
#include "config/yaml_tree.hpp"

namespace infergate::config {
namespace {

LoadResult load(const std::string& text, const std::string& name) {
    LoadResult result;
    try {
        auto root = parse_yaml(text, name, result.errors);
        if (!root) return result;
        auto cfg = std::make_shared<Config>();
        cfg->file = name;
        Diag d{result.errors};
        read_config(d, *root, std::filesystem::path(name).parent_path().string(), *cfg);
        // Sections are read in a fixed order, not file order; report in file
        // order (the config first, then any scheduler files) so the list
        // reads top to bottom.
        std::stable_sort(result.errors.begin(), result.errors.end(), [&](const ConfigError& a, const ConfigError& b) {
            return std::make_tuple(a.mark.file != name, a.mark.file, a.mark.line, a.mark.col) <
                   std::make_tuple(b.mark.file != name, b.mark.file, b.mark.line, b.mark.col);
        });
        if (result.errors.empty()) result.config = std::move(cfg);
    } catch (const std::exception& e) {
        // Only allocation failure or a filesystem error can get here; the
        // contract is that loading never throws.
        result.errors.push_back({Mark{name, 0, 0}, fmt::format("internal error while loading: {}", e.what())});
        result.config.reset();
    }
    return result;
}

}  // namespace

LoadResult load_config_file(const std::string& path) {
    std::string text;
    std::string why;
    if (!read_text_file(path, text, why)) {
        LoadResult r;
        r.errors.push_back({Mark{path, 0, 0}, fmt::format("cannot read config file '{}': {}", path, why)});
        return r;
    }
    return load(text, path);
}

LoadResult load_config_string(const std::string& text, const std::string& name) { return load(text, name); }

std::vector<std::string> restart_required_changes(const Config& running, const Config& next) {
    std::vector<std::string> out;
    const auto& a = running.listeners;
    const auto& b = next.listeners;
    if (a.size() != b.size())
        out.push_back(fmt::format("listener count changed from {} to {}: restart required", a.size(), b.size()));
    auto find = [](const std::vector<Listener>& v, const std::string& name) -> const Listener* {
        for (const auto& l : v)
            if (l.name == name) return &l;
        return nullptr;
    };
    for (const auto& l : a)
        if (!find(b, l.name)) out.push_back(fmt::format("listener '{}' removed: restart required", l.name));
    for (const auto& l : b) {
        const Listener* old = find(a, l.name);
        if (!old) {
            out.push_back(fmt::format("listener '{}' added: restart required", l.name));
        } else if (old->tls.has_value() != l.tls.has_value()) {
            out.push_back(fmt::format("listener '{}' changed from {} to {}: restart required", l.name,
                                      old->tls ? "TLS" : "plain HTTP", l.tls ? "TLS" : "plain HTTP"));
        } else if (old->address.to_string() != l.address.to_string()) {
            out.push_back(fmt::format("listener '{}' address changed from {} to {}: restart required", l.name,
                                      old->address.to_string(), l.address.to_string()));
        }
    }
    if (running.admin.address.to_string() != next.admin.address.to_string())
        out.push_back(fmt::format("admin address changed from {} to {}: restart required",
                                  running.admin.address.to_string(), next.admin.address.to_string()));
    if (running.workers != next.workers)
        out.push_back(fmt::format("workers changed from {} to {}: restart required", running.workers, next.workers));
    return out;
}

}  // namespace infergate::config
