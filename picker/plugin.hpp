// The scheduling plugin interfaces: filters, scorers, pickers and profile
// handlers, in the vocabulary of the Gateway API Inference Extension /
// llm-d router (reference: llm-d-router ebab687927f5,
// pkg/epp/framework/interface/scheduling/plugins.go).
//
// Contract: a plugin is built once, at config load, by its factory in the
// registry (picker/registry.hpp), which validates its parameters. After
// that it is immutable; every method is const and may run on every worker
// at once. Methods get the candidates and write into caller-owned spans:
// they never allocate and never throw.
#pragma once

#include <cstddef>
#include <random>
#include <span>
#include <string>
#include <utility>

#include "picker/endpoint.hpp"
#include "picker/scheduler.hpp"

namespace infergate::picker {

enum class PluginKind { filter, scorer, picker, profile_handler };

class Plugin {
public:
    Plugin(std::string type, std::string name) : type_(std::move(type)), name_(std::move(name)) {}
    virtual ~Plugin() = default;
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;

    virtual PluginKind kind() const = 0;
    const std::string& type() const { return type_; }  // e.g. "queue-scorer"
    const std::string& name() const { return name_; }  // unique in its config; defaults to type

private:
    std::string type_;
    std::string name_;
};

// Removes candidates. Moves the kept ones to the front of `candidates`
// (order among them preserved) and returns how many it kept.
class Filter : public Plugin {
public:
    using Plugin::Plugin;
    PluginKind kind() const final { return PluginKind::filter; }
    virtual size_t filter(const SchedulingRequest& req, std::span<EndpointState*> candidates) const = 0;
};

// Writes one score per candidate into `out` (out.size() == candidates.size()).
// Scores are meant to be in [0, 1], higher is better; the scheduler clamps
// them to that range (and NaN to 0) before weighting, as the reference's
// enforceScoreRange does.
class Scorer : public Plugin {
public:
    using Plugin::Plugin;
    PluginKind kind() const final { return PluginKind::scorer; }
    virtual void score(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
                       std::span<double> out) const = 0;
};

// Chooses one candidate from the weighted totals (totals.size() ==
// candidates.size() > 0) and returns its index. Randomness comes from the
// caller's generator (one per worker), never from shared state.
class Picker : public Plugin {
public:
    using Plugin::Plugin;
    PluginKind kind() const final { return PluginKind::picker; }
    virtual size_t pick(std::span<EndpointState* const> candidates, std::span<const double> totals,
                        std::minstd_rand& rng) const = 0;
};

// Decides which profiles run for a request and which result is primary.
// Only single-profile-handler exists yet, which runs the one profile, so
// the interface carries no method for now.
class ProfileHandler : public Plugin {
public:
    using Plugin::Plugin;
    PluginKind kind() const final { return PluginKind::profile_handler; }
};

}  // namespace infergate::picker
