// infergate-loadgen configuration: every command-line flag, its default,
// and the parsers (schedule, mix, route, target URL). Pure data and
// parsing, no I/O, so unit tests check every rejection.
//
// Time: every duration and rate on the command line is in *simulated*
// time (the simulator's --time-scale); the runner divides durations and
// multiplies rates by time_scale. Exceptions, in real time: --timeout,
// --drain and --burst-window-ms (see README.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace infergate::loadgen {

// One open-loop stage: Poisson arrivals at `qps` for `seconds`.
struct Stage {
    double qps = 0;
    double seconds = 0;
};

// One request class of --mix, drawn with probability weight / sum.
struct ClassWeight {
    std::string name;
    double weight = 1;
};

// One --target: plain HTTP only (the load generator measures the path
// behind it, not TLS).
struct Target {
    std::string host;
    std::string port = "80";
    std::string path = "/v1/completions";
    std::string url;  // as given, for messages
};

enum class Workload { shared_prefix, random, burst };
enum class RouteMode { round_robin, window };

// --route window:MS[:min_colocate_blocks[:max_per_replica]], the
// reference's burst-prefix-cache-producer parameters (windowDurationMs,
// minColocateBlocks, maxPerReplica; -1 = unlimited).
struct Route {
    RouteMode mode = RouteMode::round_robin;
    double window_ms = 100;  // simulated ms
    int min_colocate_blocks = 0;
    int max_per_replica = -1;
};

struct Options {
    std::vector<Target> targets;
    std::string model = "meta-llama/Llama-3.1-8B-Instruct";
    std::vector<std::string> headers;  // "K: V", validated

    Workload workload = Workload::shared_prefix;
    uint32_t groups = 10;
    uint32_t prompts_per_group = 10;
    uint32_t system_tokens = 1000;
    uint32_t question_tokens = 100;
    uint32_t prompt_tokens = 1000;  // random workload
    uint32_t output_tokens = 128;
    uint32_t chars_per_token = 4;

    // Burst (--workload burst, or --burst N on top of another workload).
    uint32_t burst = 0;
    double burst_window_ms = 0;  // real ms
    double burst_delay = 0;      // simulated s

    std::vector<Stage> schedule;  // empty: closed loop or burst only
    uint32_t concurrency = 0;     // closed loop when > 0
    uint64_t requests = 0;

    std::vector<ClassWeight> mix{{"default", 1}};
    std::string class_header;

    double timeout = 600;  // real s
    double drain = -1;     // real s; < 0: = timeout
    uint32_t max_inflight = 10000;
    Route route;

    double time_scale = 1;
    uint64_t seed = 1;
    std::string csv;
    std::string summary;
};

enum class ParseOutcome { run, help, error };

// Fills `out` from argv. On error `message` says what is wrong; on help it
// holds the usage text.
ParseOutcome parse_args(int argc, const char* const* argv, Options& out, std::string& message);

// "QPS:SECONDS,QPS:SECONDS,...": qps >= 0, seconds > 0, at least one stage.
bool parse_schedule(std::string_view text, std::vector<Stage>& out, std::string& error);
// "name=weight,name=weight": weights > 0, distinct names.
bool parse_mix(std::string_view text, std::vector<ClassWeight>& out, std::string& error);
// "window:MS[:MIN[:K]]" or "round-robin".
bool parse_route(std::string_view text, Route& out, std::string& error);
// "http://host[:port][/path]"; an empty or "/" path means /v1/completions.
bool parse_target(std::string_view url, Target& out, std::string& error);

std::string_view workload_name(Workload w);

}  // namespace infergate::loadgen
