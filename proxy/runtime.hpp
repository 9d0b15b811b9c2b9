// The immutable snapshot the workers route and pick with: a validated
// Config plus, per pool, the live endpoint states and its scheduler.
//
// Built by the control thread at start and at each reload, then handed to
// every worker by value (shared_ptr<const Runtime>); a request keeps the
// snapshot it started with. Endpoint states are carried over from the
// previous snapshot when a pool keeps an endpoint, so in-flight counts and
// scraped metrics survive a reload.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/loader.hpp"
#include "picker/endpoint.hpp"
#include "picker/scheduler.hpp"
#include "proxy/model_rewrite.hpp"
#include "proxy/model_labels.hpp"
#include "tls/client_context.hpp"

namespace infergate::proxy {

class MessageHead;

struct RuntimeBackend {
    size_t pool;  // index into Runtime::pools
    uint32_t weight;
    const std::optional<std::string>* model_rewrite;
};

struct RuntimeRoute {
    const config::Route* cfg;
    std::vector<RuntimeBackend> backends;
    uint32_t total_weight = 0;
};

struct RuntimePool {
    const config::Pool* cfg;
    std::unique_ptr<picker::PoolPicker> picker;
    ModelRewriteTable rewrites;  // this pool's model_rewrites rules
    std::shared_ptr<const tls::ClientTls> tls;  // null: plain HTTP to the endpoints
};

// A configured objective, resolved: `pool` indexes Runtime::pools, or is
// kAnyPool when the objective applies to every pool.
struct RuntimeObjective {
    static constexpr size_t kAnyPool = static_cast<size_t>(-1);
    std::string_view name;  // into the config
    int priority;
    size_t pool;
};

// The request headers naming an objective, the current one first
// (reference: pkg/epp/metadata/consts.go ObjectiveKey and its alias).
inline constexpr std::string_view kObjectiveHeader = "x-llm-d-inference-objective";
inline constexpr std::string_view kObjectiveHeaderOld = "x-gateway-inference-objective";

struct Runtime {
    std::shared_ptr<const config::Config> config;
    std::vector<RuntimePool> pools;
    std::vector<RuntimeRoute> routes;
    std::vector<RuntimeObjective> objectives;  // sorted by name
    std::string models_json;  // the /v1/models answer
    // The client_subject_header of every mTLS listener: removed from every
    // request on every listener, so no client can forge one.
    std::vector<std::string> client_subject_headers;
    ModelLabels model_labels;  // label values for the inference_objective_* metrics
    uint64_t generation = 0;

    // First route (file order) whose path, headers and model match.
    // `model` is null when the request carries none.
    const RuntimeRoute* match(std::string_view path, const MessageHead& head,
                              const std::string* model) const;

    // A request's priority once its route and pool are chosen: the
    // objective its objective header names (the current header first, then
    // the deprecated alias), else the route's priority. A name that is
    // not configured, or configured for another pool, counts as no header:
    // the reference uses its default priority for an unknown objective
    // (pkg/epp/requestcontrol/director.go getInferenceObjective), and the
    // route's priority is infergate's default. Binary search, no allocation.
    int priority(const RuntimeRoute& route, size_t pool, const MessageHead& head) const;
};

// Endpoint states by (pool, address); owned by the control thread.
using EndpointRegistry = std::map<std::string, std::shared_ptr<picker::EndpointState>>;

struct RuntimeBuild {
    std::shared_ptr<const Runtime> runtime;  // null on errors
    std::vector<config::ConfigError> errors;
    std::vector<config::ConfigError> warnings;  // logged at load; not fatal
};

// Builds schedulers (validating every plugin) and reuses endpoint states
// from `registry`, which is replaced by the new set on success.
// `previous` (the running snapshot, on reload) lends what may be kept: a
// pool's TLS client context when its settings and files are unchanged.
RuntimeBuild build_runtime(std::shared_ptr<const config::Config> cfg, EndpointRegistry& registry,
                           uint64_t generation, const Runtime* previous = nullptr);

// The backend a request goes to: weighted random choice.
const RuntimeBackend& choose_backend(const RuntimeRoute& route, uint32_t random);

}  // namespace infergate::proxy
