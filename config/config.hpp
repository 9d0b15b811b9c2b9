// infergate's configuration: immutable, validated structs built from YAML.
//
// Contract: a Config is built once by load_config() (config/loader.hpp),
// fully validated, and never mutated afterwards. Workers read it through a
// std::shared_ptr<const Config>; any number of threads may read it at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace infergate::config {

using Duration = std::chrono::milliseconds;

// A position in a config file. line and col are 1-based; 0 means unknown.
struct Mark {
    std::string file;
    int line = 0;
    int col = 0;
};

// A generic YAML value kept with its source position, for sections whose
// keys are validated by another component (the picker validates its own
// plugin parameters). Maps keep file order.
struct Node {
    enum class Kind { null, scalar, sequence, map };
    Kind kind = Kind::null;
    std::string scalar;                              // kind == scalar
    // kind == scalar: written quoted or with an explicit tag, so it is text
    // even when it looks like a number (`weight: "90"` is a string).
    bool quoted = false;
    std::vector<Node> items;                         // kind == sequence
    std::vector<std::pair<std::string, Node>> entries;  // kind == map
    std::vector<Mark> key_marks;                     // per entry, kind == map
    Mark mark;

    // nullptr when this is not a map or the key is absent.
    const Node* find(const std::string& key) const;
};

// host:port; port 0 means "any free port" for listeners.
struct Address {
    std::string host;  // IPv4 literal, IPv6 literal without brackets, or name
    uint16_t port = 0;
    std::string to_string() const;  // "host:port" or "[v6]:port"
};

// A file named in the config, resolved against the config file's
// directory, with where it was named (for load errors).
struct FileRef {
    std::string path;
    std::string key;  // e.g. "listeners[0].tls.certificates[1].cert_file"
    Mark mark;
    bool empty() const { return path.empty(); }
};

// Client-facing TLS of one listener (tls/server_context.hpp builds it).
struct TlsCertificate {
    FileRef cert_file;  // PEM: the leaf first, then its intermediates
    FileRef key_file;
};

struct ListenerTls {
    std::vector<TlsCertificate> certificates;  // the first is the default
    bool tls13_only = false;                   // min_version "1.3" (Mozilla "modern")
    FileRef client_ca_file;                    // set: clients present certificates (mTLS)
    bool client_cert_required = true;          // client_cert: required | optional
    std::string client_subject_header = "x-client-cert-subject";  // lower-case
    Duration handshake_timeout{10000};
    bool session_tickets = true;
    Duration session_timeout{3600 * 1000};     // also the ticket key rotation period
    Duration watch_interval{1000};             // 0: files are re-read on SIGHUP only
    Mark mark;
};

struct Listener {
    std::string name;
    Address address;
    std::optional<ListenerTls> tls;  // absent: plain HTTP
    Mark mark;
};

// TLS from infergate to a pool's endpoints.
struct UpstreamTls {
    FileRef ca_file;           // empty: the system trust store
    std::string server_name;   // SNI and the name verified; empty: the endpoint's host
    FileRef cert_file;         // optional client certificate (mTLS to the model servers)
    FileRef key_file;
    bool insecure_skip_verify = false;
    Mark mark;
};

struct Admin {
    Address address;
};

struct HeaderMatch {
    std::string name;   // lower-cased at load
    std::string value;  // exact match
};

struct RouteMatch {
    enum class PathKind { prefix, exact };
    PathKind path_kind = PathKind::prefix;
    std::string path = "/";
    std::vector<HeaderMatch> headers;
    std::optional<std::string> model;  // the OpenAI body's "model", exact
};

struct Backend {
    std::string pool;
    uint32_t weight = 1;  // 0 allowed: the pool receives no traffic
    // The model name this pool serves; when set the request body's "model"
    // is rewritten to it (rollouts between differently named models).
    std::optional<std::string> model_rewrite;
};

struct Route {
    std::string name;
    RouteMatch match;
    std::vector<Backend> backends;
    // The priority of requests that name no known objective in the
    // x-llm-d-inference-objective / x-gateway-inference-objective header:
    // `priority`, or the priority of the objective named by `objective`
    // (resolved at load). Negative is sheddable.
    int32_t priority = 0;
    std::optional<std::string> objective;
    Mark mark;
};

// An InferenceObjective (Gateway API Inference Extension / llm-d,
// apix/v1alpha2/inferenceobjective_types.go), flattened: metadata.name,
// spec.priority (unset means 0; negative means sheddable) and
// spec.poolRef.name. Requests name it in the x-llm-d-inference-objective
// header (or its deprecated alias x-gateway-inference-objective).
struct Objective {
    std::string name;
    int32_t priority = 0;
    // The pool it applies to; unset: every pool. For a request sent to
    // another pool the objective is unknown (as an objective of another
    // InferencePool is unknown to that pool's endpoint picker).
    std::optional<std::string> pool;
    Mark mark;
};

struct Endpoint {
    Address address;
    std::map<std::string, std::string> labels;
};

enum class Engine { vllm, sglang };
enum class FailureMode { fail_open, fail_close };

// One plugin instance of an EndpointPickerConfig. `parameters` is kept raw:
// the picker validates it at load (picker::build_scheduler).
struct PluginSpec {
    std::string type;
    std::string name;  // defaults to type
    Node parameters;   // kind null when absent
    Mark mark;         // position of the plugin entry
    Mark type_mark;    // position of its `type` value
};

struct ProfilePluginRef {
    std::string plugin_ref;
    std::optional<double> weight;  // scorers without a weight get 1
    Mark mark;
};

struct SchedulingProfile {
    std::string name;
    std::vector<ProfilePluginRef> plugins;
    Mark mark;
};

// The shape of the Gateway API Inference Extension's EndpointPickerConfig
// (camelCase keys kept). `present` is false when the pool had no
// scheduler section: the picker then uses its default profile.
struct SchedulerConfig {
    bool present = false;
    std::string source_file;  // file the section came from (inline: the config)
    std::vector<PluginSpec> plugins;
    std::vector<SchedulingProfile> profiles;
    // The pool's saturation detector: flowControl.saturationDetector.pluginRef,
    // else the deprecated top-level saturationDetector.pluginRef (the
    // reference's loader: the new field wins when both are set). Empty
    // means the reference's default, a plugin named "utilization-detector"
    // (created with default parameters when the plugins list has none).
    std::string saturation_detector;
    Mark saturation_detector_mark;  // of the pluginRef value
    Mark mark;
    // Top-level sections of the document that infergate accepts but does
    // not act on (featureGates, dataLayer, ...): reported at load.
    std::vector<std::pair<std::string, Mark>> ignored_sections;
    // The pool's ignore_unsupported_plugins: plugin types the reference
    // knows but infergate does not implement are dropped with a warning
    // instead of failing the load.
    bool ignore_unsupported = false;
};

struct Pool {
    std::string name;
    std::vector<Endpoint> endpoints;
    Engine engine = Engine::vllm;
    std::string metrics_path = "/metrics";
    Duration scrape_interval{50};
    Duration metrics_staleness{200};
    FailureMode failure_mode = FailureMode::fail_open;
    SchedulerConfig scheduler;
    std::optional<UpstreamTls> tls;  // absent: plain HTTP to the endpoints
    Mark mark;
};

// Model rewrite with weights, per pool: the Gateway API Inference
// Extension's InferenceModelRewrite (llm-d-router
// apix/v1alpha2/inferencemodelrewrite_types.go), with `poolRef` written as
// the pool's name. A request whose body `model` (as the pool would receive
// it, i.e. after a backend's fixed `model_rewrite`) matches a rule gets one
// of the rule's targets, drawn by weight, as its new `model`.
struct RewriteTarget {
    std::string model_rewrite;  // `modelRewrite`
    uint32_t weight = 1;        // 1..1000000; unset on every target: equal shares
    Mark mark;
};

struct RewriteRule {
    // `matches[].model.value` (type Exact). Empty: the rule matches every
    // model (the reference's "generic" rule), below any exact match.
    std::vector<std::string> models;
    std::vector<RewriteTarget> targets;  // at least one
    Mark mark;
};

struct ModelRewrite {
    std::string name;
    std::string pool;  // the CRD's poolRef.name
    std::vector<RewriteRule> rules;
    Mark mark;
};

struct Limits {
    uint32_t max_header_bytes = 64 * 1024;
    uint32_t max_headers = 100;
    uint32_t max_uri_bytes = 8 * 1024;
    uint64_t max_body_bytes = 16ull * 1024 * 1024;
    uint32_t max_connections_per_worker = 10000;
    uint32_t max_upstream_requests = 10000;  // concurrent, all workers
};

struct Timeouts {
    Duration header_read{10000};        // whole header section; 408
    Duration body_read{60000};          // whole request body; 408
    Duration keepalive_idle{60000};     // idle downstream connection
    Duration upstream_connect{2000};    // 502 (retried once elsewhere)
    Duration upstream_response_header{60000};  // 504
    Duration stream_idle{60000};        // between response body bytes
    Duration upstream_keepalive_idle{4000};    // below vLLM's 5 s
    Duration drain{30000};              // SIGTERM: max wait for in-flight
};

struct AccessLog {
    // "stdout", "off", or a file path (reopened on SIGUSR1).
    std::string path = "stdout";
};

struct Cidr {
    std::string text;  // as written, for messages
    bool v6 = false;
    unsigned char bytes[16] = {};
    int prefix_len = 0;
};

struct Config {
    std::string file;  // the path it was loaded from
    uint32_t workers = 0;  // 0: one per core
    std::vector<Listener> listeners;
    Admin admin;
    std::vector<Route> routes;  // first match wins, in file order
    std::vector<Pool> pools;
    std::vector<ModelRewrite> model_rewrites;  // at most one rule per (pool, model)
    std::vector<Objective> objectives;  // names unique
    Limits limits;
    Timeouts timeouts;
    AccessLog access_log;
    std::vector<Cidr> trusted_proxies;  // X-Forwarded-For appended only from these

    const Pool* find_pool(const std::string& name) const;
    const Objective* find_objective(const std::string& name) const;
};

}  // namespace infergate::config
