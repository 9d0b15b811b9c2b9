// A pool's scheduler: the Gateway API Inference Extension's
// EndpointPickerConfig, inline or from a file. Plugin types and parameters
// are the picker's business (picker::build_scheduler); here we check the
// document's shape and that profiles only name declared plugins.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "config/validate.hpp"
#include "config/values.hpp"
#include "config/yaml_tree.hpp"

namespace infergate::config {
namespace {

void read_plugins(Diag& d, const Node& list, const std::string& path, std::vector<PluginSpec>& out) {
    if (!expect_list(d, list, path)) return;
    if (list.items.empty()) d.error(list.mark, fmt::format("{} must hold at least one plugin", path));
    SeenNames seen;
    for (size_t i = 0; i < list.items.size(); ++i) {
        MapReader r(d, list.items[i], index_path(path, i));
        PluginSpec p;
        p.mark = list.items[i].mark;
        const Node* type = r.require("type");
        if (type) {
            p.type_mark = type->mark;
            if (auto v = read_string(d, *type, r.path("type"))) p.type = *v;
        }
        const Node* name = r.get("name");
        if (name) {
            if (auto v = read_string(d, *name, r.path("name"))) p.name = *v;
        } else {
            p.name = p.type;  // upstream's rule: an unnamed plugin is named after its type
        }
        if (!p.name.empty())
            check_unique(d, seen, p.name, name ? name->mark : p.type_mark, r.path("name"), "plugin name");
        if (const Node* params = r.get("parameters")) p.parameters = *params;
        r.finish();
        out.push_back(std::move(p));
    }
}

void read_profile_plugins(Diag& d, const Node& list, const std::string& path, const std::vector<PluginSpec>& plugins,
                          std::vector<ProfilePluginRef>& out) {
    if (!expect_list(d, list, path)) return;
    if (list.items.empty()) d.error(list.mark, fmt::format("{} must hold at least one pluginRef", path));
    std::vector<std::string> names;
    for (const auto& p : plugins) names.push_back(p.name);
    for (size_t i = 0; i < list.items.size(); ++i) {
        MapReader r(d, list.items[i], index_path(path, i));
        ProfilePluginRef ref;
        ref.mark = list.items[i].mark;
        if (const Node* n = r.require("pluginRef")) {
            if (auto v = read_string(d, *n, r.path("pluginRef"))) {
                ref.plugin_ref = *v;
                if (std::find(names.begin(), names.end(), *v) == names.end()) {
                    std::string msg = fmt::format("{}: no plugin named '{}' in plugins", r.path("pluginRef"), *v);
                    std::string near = nearest(*v, names);
                    if (!near.empty()) msg += fmt::format("; did you mean '{}'?", near);
                    d.error(n->mark, std::move(msg));
                }
            }
        }
        if (const Node* n = r.get("weight"))
            if (auto w = read_number(d, *n, r.path("weight"), 0.0)) ref.weight = *w;
        r.finish();
        out.push_back(std::move(ref));
    }
}

void read_profiles(Diag& d, const Node& list, const std::string& path, SchedulerConfig& out) {
    if (!expect_list(d, list, path)) return;
    SeenNames seen;
    for (size_t i = 0; i < list.items.size(); ++i) {
        MapReader r(d, list.items[i], index_path(path, i));
        SchedulingProfile prof;
        prof.mark = list.items[i].mark;
        if (const Node* n = r.require("name")) {
            if (auto v = read_string(d, *n, r.path("name"))) {
                check_unique(d, seen, *v, n->mark, r.path("name"), "profile name");
                prof.name = *v;
            }
        }
        if (const Node* n = r.require("plugins"))
            read_profile_plugins(d, *n, r.path("plugins"), out.plugins, prof.plugins);
        r.finish();
        out.profiles.push_back(std::move(prof));
    }
}

void check_one_of(Diag& d, const Node& n, const std::string& path, std::initializer_list<std::string_view> allowed) {
    auto v = read_string(d, n, path);
    if (!v) return;
    std::string list;
    for (auto a : allowed) {
        if (a == *v) return;
        list += list.empty() ? fmt::format("'{}'", a) : fmt::format(" or '{}'", a);
    }
    d.error(n.mark, fmt::format("{} must be {}, got '{}'", path, list, *v));
}

}  // namespace

void read_epp(Diag& d, const Node& doc, const std::string& path, SchedulerConfig& out) {
    out.present = true;
    out.mark = doc.mark;
    MapReader r(d, doc, path);
    if (!r.ok()) return;
    if (const Node* n = r.get("apiVersion"))
        check_one_of(d, *n, r.path("apiVersion"), {"llm-d.ai/v1alpha1", "inference.networking.x-k8s.io/v1alpha1"});
    if (const Node* n = r.get("kind")) check_one_of(d, *n, r.path("kind"), {"EndpointPickerConfig"});
    if (const Node* n = r.require("plugins")) read_plugins(d, *n, r.path("plugins"), out.plugins);
    if (const Node* n = r.get("schedulingProfiles")) read_profiles(d, *n, r.path("schedulingProfiles"), out);
    // The reference's other top-level sections: accepted so that existing
    // files load, and reported at load as not acted on.
    for (const char* key : {"featureGates", "dataLayer", "flowControl", "requestHandler", "saturationDetector"}) {
        if (const Node* n = r.get(key)) {
            const auto& keys = doc.key_marks;
            Mark m = n->mark;
            for (size_t i = 0; i < doc.entries.size() && i < keys.size(); ++i)
                if (doc.entries[i].first == key) m = keys[i];
            out.ignored_sections.emplace_back(key, m);
        }
    }
    r.finish();
}

void read_scheduler(Diag& d, const Node& value, const std::string& path, const std::string& base_dir,
                    const std::string& config_file, SchedulerConfig& out) {
    if (value.kind == Node::Kind::map) {
        out.source_file = config_file;
        read_epp(d, value, path, out);
        return;
    }
    if (value.kind != Node::Kind::scalar) {
        d.error(value.mark, fmt::format("{} must be a map (inline EndpointPickerConfig) or a file path, got {}", path,
                                        describe(value)));
        return;
    }
    auto rel = read_string(d, value, path);
    if (!rel) return;
    std::filesystem::path file(*rel);
    if (file.is_relative()) file = std::filesystem::path(base_dir) / file;
    const std::string name = file.lexically_normal().string();
    std::string text;
    std::string why;
    if (!read_text_file(name, text, why)) {
        d.error(value.mark, fmt::format("{}: cannot read scheduler file '{}': {}", path, name, why));
        return;
    }
    out.source_file = name;
    auto doc = parse_yaml(text, name, d.errors);
    if (!doc) return;
    if (doc->kind != Node::Kind::map) {
        d.error(doc->mark, fmt::format("the EndpointPickerConfig file must hold a map, got {}", describe(*doc)));
        return;
    }
    // Paths inside the file are relative to its root; marks name the file.
    read_epp(d, *doc, "", out);
}

}  // namespace infergate::config
