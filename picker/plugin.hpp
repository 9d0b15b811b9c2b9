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
#include <memory>
#include <random>
#include <span>
#include <string>
#include <utility>

#include "picker/endpoint.hpp"
#include "picker/scheduler.hpp"

namespace infergate::picker {

enum class PluginKind { filter, scorer, picker, profile_handler, producer };

class Plugin {
public:
    Plugin(std::string type, std::string name) : type_(std::move(type)), name_(std::move(name)) {}
    virtual ~Plugin() = default;
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;

    virtual PluginKind kind() const = 0;
    const std::string& type() const { return type_; }  // e.g. "queue-scorer"
    const std::string& name() const { return name_; }  // unique in its config; defaults to type

    // Response header this plugin wants set to the chosen endpoint's
    // token (EndpointState::token()), or empty. The session-affinity
    // scorer uses it to echo the endpoint back to the client.
    virtual std::string_view echo_header() const { return {}; }

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
    // What the scheduler calls: score() plus the worker's scratch, whose
    // PickScratch::prefix slot a scorer bound to a producer reads. Scorers
    // that read no producer leave it as is.
    virtual void score_with(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
                            std::span<double> out, const PickScratch& /*scratch*/) const {
        score(req, candidates, out);
    }

    // A scorer that reads a data producer's output names it here (its
    // prefixMatchInfoProducerName); empty when it reads none. The builder
    // resolves the name, creating the default producer when the config
    // lists none, and hands the producer's scratch slot to bind_producer.
    virtual std::string_view producer_name() const { return {}; }
    virtual void bind_producer(size_t /*slot*/) {}
    // The older configuration form: a prefix-cache-scorer carrying the
    // producer's parameters gets a producer of its own, handed to the
    // builder once (it then binds the scorer to it). Null otherwise.
    virtual std::unique_ptr<Plugin> take_own_producer() { return nullptr; }

    // Called once per decision, after the picker chose `chosen`, for
    // scorers that keep state across requests (no-hit-lru-scorer).
    virtual void pre_request(const SchedulingRequest& /*req*/, EndpointState& /*chosen*/,
                             const PickScratch& /*scratch*/) const {}
    virtual bool wants_pre_request() const { return false; }
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

// Produces per-request data for scorers before they run (the reference's
// requestcontrol.DataProducer, pkg/epp/framework/interface/requestcontrol).
// The reference runs producers on every endpoint before scheduling;
// infergate runs them after the filters, on the candidates the scorers
// will see, which gives the scorers the same data for less work.
// Every producer in `plugins` runs for every request, in config order;
// its output goes to its own slot of PickScratch::prefix.
class DataProducer : public Plugin {
public:
    using Plugin::Plugin;
    PluginKind kind() const final { return PluginKind::producer; }
    // Fills `out` (whose vectors it may reuse) for the candidates; must set
    // out.produced. Runs on every worker at once: shared state inside the
    // producer must be safe for that.
    virtual void produce(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
                         PrefixMatchInfo& out) const = 0;
    // After the pick: record the decision (e.g. the chosen endpoint now
    // holds the request's blocks).
    virtual void pre_request(const SchedulingRequest& /*req*/, EndpointState& /*chosen*/,
                             const PrefixMatchInfo& /*mine*/) const {}
    // Called once by the builder before the scheduler is shared, when it
    // knows the pool (see PoolContext): lets the producer take over the
    // state of its predecessor from the previous configuration.
    virtual void bind_pool(const PoolContext& /*pool*/) {}
    // Fills `out` and returns true for a producer that owns a prefix index.
    virtual bool index_stats(PrefixIndexStats& /*out*/) const { return false; }
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
