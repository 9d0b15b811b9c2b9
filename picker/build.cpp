// build_scheduler: EndpointPickerConfig -> Scheduler, validating
// everything once at load. Follows the reference's loader (llm-d-router
// ebab687927f5, pkg/epp/config/loader/: configloader.go buildSchedulerConfig,
// validation.go validatePlugins/validateSchedulingProfiles, defaults.go
// ensureSchedulingLayer/loadDefaultConfig) and reports every problem found,
// each at its file:line:col, instead of stopping at the first.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "picker/builtin_plugins.hpp"
#include "picker/registry.hpp"
#include "picker/scheduler_impl.hpp"

namespace infergate::picker {

namespace {

std::string_view kind_name(PluginKind k) {
    switch (k) {
        case PluginKind::filter: return "a filter";
        case PluginKind::scorer: return "a scorer";
        case PluginKind::picker: return "a picker";
        case PluginKind::profile_handler: return "a profile handler";
        case PluginKind::producer: return "a data producer";
    }
    return "a plugin";
}

struct Named {
    std::string name;
    Plugin* plugin;  // null when the plugin failed to build (already reported)
};

class Builder {
public:
    explicit Builder(const config::SchedulerConfig& cfg) : cfg_(cfg) {}

    BuildResult build() {
        for (const auto& [key, mark] : cfg_.ignored_sections)
            warn(mark, fmt::format("section '{}' is accepted but not acted on by infergate yet; ignored", key));
        build_plugins();
        check_profile_handlers();
        if (cfg_.profiles.empty()) default_profile();
        else build_profile();
        collect_producers();
        bind_producers();
        if (!errors_.empty()) return BuildResult{nullptr, std::move(errors_), std::move(warnings_)};
        if (!picker_) add_default_picker();
        auto s = std::make_shared<const Scheduler>(std::move(owned_), std::move(profile_),
                                                   std::move(filters_), std::move(scorers_), picker_,
                                                   std::move(producers_));
        return BuildResult{std::move(s), {}, std::move(warnings_)};
    }

private:
    void error(const config::Mark& mark, std::string msg) {
        errors_.push_back(config::ConfigError{with_file(mark, cfg_.source_file), std::move(msg)});
    }
    void warn(const config::Mark& mark, std::string msg) {
        warnings_.push_back(config::ConfigError{with_file(mark, cfg_.source_file), std::move(msg)});
    }

    bool skipped(const std::string& name) const {
        return std::find(skipped_.begin(), skipped_.end(), name) != skipped_.end();
    }

    const Named* find(const std::string& name) const {
        for (const auto& n : named_)
            if (n.name == name) return &n;
        return nullptr;
    }

    void build_plugins() {
        for (const config::PluginSpec& spec : cfg_.plugins) {
            const std::string& name = plugin_name(spec);
            if (find(name)) {
                error(spec.mark, fmt::format("duplicate plugin name '{}'", name));
                continue;
            }
            if (cfg_.ignore_unsupported && is_reference_only_type(spec.type)) {
                // One warning per type; profiles referring to it drop the reference.
                if (std::find(skipped_types_.begin(), skipped_types_.end(), spec.type) == skipped_types_.end()) {
                    skipped_types_.push_back(spec.type);
                    warn(spec.type_mark, fmt::format("plugin type '{}' is not supported yet; ignored "
                                                     "(ignore_unsupported_plugins)", spec.type));
                }
                skipped_.push_back(name);
                continue;
            }
            std::unique_ptr<Plugin> p = make_plugin(spec, cfg_.source_file, errors_);
            named_.push_back(Named{name, p.get()});
            if (p) owned_.push_back(std::move(p));
        }
    }

    // Every data producer runs for every request, in config order.
    void collect_producers() {
        for (const auto& n : named_)
            if (n.plugin && n.plugin->kind() == PluginKind::producer)
                producers_.push_back(static_cast<const DataProducer*>(n.plugin));
    }

    // A scorer that reads a producer gets the producer's slot. The
    // reference's data-layer DAG auto-creates a missing producer with its
    // defaults when the name is the producer's type (a scorer with no
    // prefixMatchInfoProducerName reads approx-prefix-cache-producer).
    void bind_producers() {
        for (const auto& ws : scorers_) {
            auto* scorer = const_cast<Scorer*>(ws.scorer);  // still building: not shared yet
            const std::string_view want = scorer->producer_name();
            if (want.empty()) continue;
            size_t slot = producers_.size();
            for (size_t i = 0; i < producers_.size(); ++i)
                if (producers_[i]->name() == want) slot = i;
            if (slot == producers_.size()) {
                const Named* n = find(std::string(want));
                if (n && n->plugin && n->plugin->kind() != PluginKind::producer) {
                    error(cfg_.mark, fmt::format("scorer '{}' reads producer '{}', but '{}' is {}", scorer->name(),
                                                 want, want, kind_name(n->plugin->kind())));
                    continue;
                }
                std::unique_ptr<Plugin> made = make_default_producer(want);
                if (!made) {
                    error(cfg_.mark, fmt::format("scorer '{}' reads producer '{}', which is not among the plugins",
                                                 scorer->name(), want));
                    continue;
                }
                producers_.push_back(static_cast<const DataProducer*>(made.get()));
                named_.push_back(Named{made->name(), made.get()});
                owned_.push_back(std::move(made));
            }
            scorer->bind_producer(slot);
        }
    }

    // Reference: configloader.go buildSchedulerConfig, "multiple profile
    // handlers found ...; only one is allowed".
    void check_profile_handlers() {
        const Named* first = nullptr;
        for (size_t i = 0; i < named_.size(); ++i) {
            const Plugin* p = named_[i].plugin;
            if (!p || p->kind() != PluginKind::profile_handler) continue;
            if (!first) {
                first = &named_[i];
                continue;
            }
            const auto& spec = *std::find_if(cfg_.plugins.begin(), cfg_.plugins.end(), [&](const auto& s) {
                return plugin_name(s) == named_[i].name;
            });
            error(spec.mark, fmt::format("multiple profile handlers ('{}', '{}'); only one is allowed",
                                         first->name, named_[i].name));
        }
    }

    // Reference: defaults.go ensureSchedulingLayer — with no profile, one
    // named "default" holds every filter, scorer and picker (in file order
    // here; the reference iterates a map), scorers at weight 1.
    void default_profile() {
        profile_ = "default";
        for (const auto& n : named_) {
            if (!n.plugin || n.plugin->kind() == PluginKind::profile_handler ||
                n.plugin->kind() == PluginKind::producer)
                continue;
            add(*n.plugin, 1.0, cfg_.mark, "default");
        }
    }

    // More than one profile needs a profile handler that runs several and
    // merges their results (pd/disagg, data-parallel); the reference's
    // single-profile-handler itself fails a request when it sees more than
    // one result. None of those is implemented, so more than one profile is
    // rejected at load.
    void build_profile() {
        for (size_t i = 1; i < cfg_.profiles.size(); ++i)
            error(cfg_.profiles[i].mark,
                  fmt::format("scheduling profile '{}': more than one scheduling profile is not supported yet",
                              cfg_.profiles[i].name));
        const config::SchedulingProfile& prof = cfg_.profiles.front();
        if (prof.name.empty()) error(prof.mark, "schedulingProfiles[0] is missing a name");
        profile_ = prof.name;
        for (size_t j = 0; j < prof.plugins.size(); ++j) {
            const config::ProfilePluginRef& ref = prof.plugins[j];
            if (ref.plugin_ref.empty()) {
                error(ref.mark, fmt::format("schedulingProfiles[{}].plugins[{}] is missing a 'pluginRef'",
                                            prof.name, j));
                continue;
            }
            if (skipped(ref.plugin_ref)) continue;  // unsupported and ignored, warned above
            const Named* n = find(ref.plugin_ref);
            if (!n) {
                std::vector<std::string_view> names;
                for (const auto& k : named_) names.push_back(k.name);
                std::string msg = fmt::format("scheduling profile '{}' references undefined plugin '{}'",
                                              prof.name, ref.plugin_ref);
                if (auto near = closest_name(ref.plugin_ref, names); !near.empty())
                    msg += fmt::format(" (did you mean '{}'?)", near);
                error(ref.mark, std::move(msg));
                continue;
            }
            if (!n->plugin) continue;  // its own error is already reported
            const Plugin& p = *n->plugin;
            if (ref.weight && p.kind() != PluginKind::scorer) {
                error(ref.mark, fmt::format("plugin '{}' in scheduling profile '{}' is {}: only scorers take a weight",
                                            p.name(), prof.name, kind_name(p.kind())));
                continue;
            }
            // Weights are unconstrained in the reference; a negative or
            // non-finite one would invert or poison the sum, so refuse it.
            const double w = ref.weight.value_or(1.0);
            if (!std::isfinite(w) || w < 0) {
                error(ref.mark, fmt::format("weight of scorer '{}' in scheduling profile '{}' must be a finite "
                                            "number >= 0, got {}", p.name(), prof.name, w));
                continue;
            }
            add(p, w, ref.mark, prof.name);
        }
    }

    void add(const Plugin& p, double weight, const config::Mark& mark, const std::string& profile) {
        switch (p.kind()) {
            case PluginKind::filter: filters_.push_back(static_cast<const Filter*>(&p)); break;
            case PluginKind::scorer:
                scorers_.push_back(Scheduler::WeightedScorer{static_cast<const Scorer*>(&p), weight});
                break;
            case PluginKind::picker:
                // Reference: scheduler_profile.go AddPlugins, "already have a
                // registered picker plugin".
                if (picker_) {
                    error(mark, fmt::format("scheduling profile '{}' has more than one picker ('{}' and '{}')",
                                            profile, picker_->name(), p.name()));
                    break;
                }
                picker_ = static_cast<const Picker*>(&p);
                break;
            case PluginKind::profile_handler:
                error(mark, fmt::format("plugin '{}' is a profile handler: list it under plugins, not in "
                                        "scheduling profile '{}'", p.name(), profile));
                break;
            case PluginKind::producer:
                // Producers run for every request; they take no place in a profile.
                error(mark, fmt::format("plugin '{}' is a data producer: list it under plugins, not in "
                                            "scheduling profile '{}'", p.name(), profile));
                break;
        }
    }

    // Reference: defaults.go ensureSchedulingLayer — a profile without a
    // picker gets the first picker among the configured plugins, else a new
    // max-score-picker with default parameters.
    void add_default_picker() {
        for (const auto& n : named_) {
            if (n.plugin && n.plugin->kind() == PluginKind::picker) {
                picker_ = static_cast<const Picker*>(n.plugin);
                return;
            }
        }
        auto p = std::make_unique<MaxScorePicker>(std::string(MaxScorePicker::type_name), 1);
        picker_ = p.get();
        owned_.push_back(std::move(p));
    }

    const config::SchedulerConfig& cfg_;
    std::vector<config::ConfigError> errors_;
    std::vector<config::ConfigError> warnings_;
    std::vector<std::string> skipped_;        // plugin names dropped as unsupported
    std::vector<std::string> skipped_types_;  // their types, each warned once
    std::vector<std::unique_ptr<Plugin>> owned_;
    std::vector<Named> named_;
    std::string profile_;
    std::vector<const Filter*> filters_;
    std::vector<Scheduler::WeightedScorer> scorers_;
    const Picker* picker_ = nullptr;
    std::vector<const DataProducer*> producers_;
};

// Reference: defaults.go loadDefaultConfig — queue-scorer (weight 2),
// kv-cache-utilization-scorer (2), prefix-cache-scorer (3), then
// ensureSchedulingLayer adds max-score-picker and single-profile-handler.
// prefix-cache-scorer is not implemented yet and is left out, so today's
// default is queue 2 + kv-cache 2, max-score-picker.
BuildResult default_scheduler() {
    std::vector<std::unique_ptr<Plugin>> owned;
    auto queue = std::make_unique<QueueScorer>(std::string(QueueScorer::type_name));
    auto kv = std::make_unique<KVCacheUtilizationScorer>(std::string(KVCacheUtilizationScorer::type_name));
    auto pick = std::make_unique<MaxScorePicker>(std::string(MaxScorePicker::type_name), 1);
    std::vector<Scheduler::WeightedScorer> scorers{{queue.get(), 2.0}, {kv.get(), 2.0}};
    const Picker* picker = pick.get();
    owned.push_back(std::move(queue));
    owned.push_back(std::move(kv));
    owned.push_back(std::move(pick));
    owned.push_back(std::make_unique<SingleProfileHandler>(std::string(SingleProfileHandler::type_name)));
    auto s = std::make_shared<const Scheduler>(std::move(owned), "default", std::vector<const Filter*>{},
                                               std::move(scorers), picker);
    return BuildResult{std::move(s), {}, {}};
}

}  // namespace

BuildResult build_scheduler(const config::SchedulerConfig& cfg) {
    if (!cfg.present) return default_scheduler();
    return Builder(cfg).build();
}

std::vector<std::string> registered_plugin_types() {
    std::vector<std::string> out;
    for (const auto& t : implemented_plugin_types()) out.emplace_back(t.type);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace infergate::picker
