// Command-line parsing for infergate-loadgen; see options.hpp.
#include "bench/loadgen/options.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

namespace infergate::loadgen {

namespace {

constexpr const char* kUsage = R"(usage: infergate-loadgen --target URL [options]
Durations are simulated seconds and rates simulated per second (see
--time-scale), except --timeout, --drain and --burst-window-ms (real).
  --target URL                 http://host:port[/path] (repeatable: round-robin,
                               or --route); path default /v1/completions
  --model NAME                 (default meta-llama/Llama-3.1-8B-Instruct)
  --header 'K: V'              extra request header (repeatable)
  --workload shared-prefix|random|burst          (default shared-prefix)
  --groups G --prompts-per-group P --system-tokens S --question-tokens Q
                               shared-prefix (defaults 10, 10, 1000, 100)
  --prompt-tokens N            random: a unique prompt of N tokens per request
  --output-tokens N            max_tokens (default 128)
  --chars-per-token C          prompt characters per token (default 4)
  --burst N --burst-window-ms W [--burst-delay S]
                               N requests sharing one fresh S-token prefix,
                               spread over W real ms, S simulated s after the
                               start; alone with --workload burst, else on top
                               of the schedule's load
  --schedule 'QPS:SECONDS,...' open-loop Poisson stages
  --concurrency C --requests N closed loop: C outstanding, N in all
  --mix name=w,name=w          request classes drawn by weight
  --class-header H             send 'H: class' on every request
  --timeout S                  per request, real seconds (default 600)
  --max-inflight N             (default 10000); beyond it a request fails
  --drain S                    real seconds to wait for in-flight requests
                               after the last send (default --timeout)
  --route round-robin|window:MS[:MIN_COLOCATE_BLOCKS[:MAX_PER_REPLICA]]
                               window: llm-d's burst-prefix-cache-producer
                               (MS simulated; needs several --target)
  --time-scale S               divide durations, multiply rates (default 1)
  --seed N                     (default 1)
  --csv FILE                   one line per request
  --summary FILE               JSON summary
)";

bool parse_double(std::string_view s, double lo, double hi, double& out) {
    std::string tmp(s);
    char* end = nullptr;
    const double v = std::strtod(tmp.c_str(), &end);
    if (tmp.empty() || end != tmp.c_str() + tmp.size() || !std::isfinite(v) || v < lo || v > hi) return false;
    out = v;
    return true;
}

template <class T>
bool parse_int(std::string_view s, T lo, T hi, T& out) {
    T v{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || v < lo || v > hi) return false;
    out = v;
    return true;
}

// Splits on `sep`, keeping empty fields (so "a,,b" is an error upstream).
std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (true) {
        const size_t pos = s.find(sep, start);
        parts.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return parts;
}

bool valid_header(std::string_view h) {
    const size_t colon = h.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    for (char c : h.substr(0, colon))
        if (c <= ' ' || c >= 127) return false;
    for (char c : h)
        if (c == '\r' || c == '\n' || c == '\0') return false;
    return true;
}

}  // namespace

std::string_view workload_name(Workload w) {
    switch (w) {
        case Workload::shared_prefix: return "shared-prefix";
        case Workload::random: return "random";
        case Workload::burst: return "burst";
    }
    return "?";
}

bool parse_schedule(std::string_view text, std::vector<Stage>& out, std::string& error) {
    out.clear();
    if (text.empty()) {
        error = "--schedule: empty";
        return false;
    }
    for (std::string_view part : split(text, ',')) {
        const size_t colon = part.find(':');
        Stage st;
        if (colon == std::string_view::npos || !parse_double(part.substr(0, colon), 0, 1e7, st.qps) ||
            !parse_double(part.substr(colon + 1), 1e-9, 1e9, st.seconds)) {
            error = fmt::format("--schedule: stage '{}' is not QPS:SECONDS (qps >= 0, seconds > 0)", part);
            return false;
        }
        out.push_back(st);
    }
    return true;
}

bool parse_mix(std::string_view text, std::vector<ClassWeight>& out, std::string& error) {
    out.clear();
    for (std::string_view part : split(text, ',')) {
        const size_t eq = part.find('=');
        ClassWeight c;
        if (eq == 0 || eq == std::string_view::npos || !parse_double(part.substr(eq + 1), 1e-12, 1e12, c.weight)) {
            error = fmt::format("--mix: '{}' is not name=weight (weight > 0)", part);
            return false;
        }
        c.name = std::string(part.substr(0, eq));
        for (char ch : c.name) {
            if (ch <= ' ' || ch >= 127 || ch == ',' || ch == '"') {
                error = fmt::format("--mix: class name '{}' must be printable ASCII without ',' or '\"'", c.name);
                return false;
            }
        }
        for (const auto& o : out) {
            if (o.name == c.name) {
                error = fmt::format("--mix: class '{}' given twice", c.name);
                return false;
            }
        }
        out.push_back(std::move(c));
    }
    return true;
}

bool parse_route(std::string_view text, Route& out, std::string& error) {
    out = Route{};
    if (text == "round-robin") return true;
    const auto parts = split(text, ':');
    if (parts[0] != "window" || parts.size() < 2 || parts.size() > 4) {
        error = fmt::format("--route: '{}' is not round-robin or window:MS[:MIN_COLOCATE_BLOCKS[:MAX_PER_REPLICA]]",
                            text);
        return false;
    }
    out.mode = RouteMode::window;
    // The reference bounds windowDurationMs to 1..10000 (burstprefix/plugin.go).
    if (!parse_double(parts[1], 1e-3, 10000, out.window_ms)) {
        error = "--route: window MS must be in (0, 10000]";
        return false;
    }
    if (parts.size() > 2 && !parse_int(parts[2], 0, 1 << 20, out.min_colocate_blocks)) {
        error = "--route: min_colocate_blocks must be an integer >= 0";
        return false;
    }
    if (parts.size() > 3 && (!parse_int(parts[3], -1, 1 << 20, out.max_per_replica) || out.max_per_replica == 0)) {
        error = "--route: max_per_replica must be -1 (unlimited) or >= 1";
        return false;
    }
    return true;
}

bool parse_target(std::string_view url, Target& out, std::string& error) {
    out = Target{};
    out.url = std::string(url);
    constexpr std::string_view scheme = "http://";
    if (!url.starts_with(scheme)) {
        error = fmt::format("--target: '{}' must start with http:// (no TLS in the load generator)", url);
        return false;
    }
    std::string_view rest = url.substr(scheme.size());
    const size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos && rest.substr(slash) != "/") out.path = std::string(rest.substr(slash));
    std::string_view host = authority, port = "80";
    if (authority.starts_with('[')) {  // [v6]:port
        const size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            error = fmt::format("--target: '{}': unterminated [", url);
            return false;
        }
        host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') {
                error = fmt::format("--target: '{}': junk after ]", url);
                return false;
            }
            port = authority.substr(close + 2);
        }
    } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    unsigned p = 0;
    if (host.empty() || !parse_int(port, 1u, 65535u, p)) {
        error = fmt::format("--target: '{}' needs a host and a port in 1..65535", url);
        return false;
    }
    for (char c : out.path) {
        if (c <= ' ' || c >= 127) {
            error = fmt::format("--target: '{}': path must be printable ASCII", url);
            return false;
        }
    }
    out.host = std::string(host);
    out.port = std::string(port);
    return true;
}

ParseOutcome parse_args(int argc, const char* const* argv, Options& out, std::string& message) {
    bool have_schedule = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            message = kUsage;
            return ParseOutcome::help;
        }
        if (i + 1 >= argc) {
            message = fmt::format("{}: missing value (or unknown flag; see --help)", flag);
            return ParseOutcome::error;
        }
        const std::string_view v = argv[++i];
        bool ok = true;
        std::string err;
        if (flag == "--target") {
            Target t;
            ok = parse_target(v, t, err);
            if (ok) out.targets.push_back(std::move(t));
        } else if (flag == "--model") {
            out.model = std::string(v);
            for (char c : v) ok = ok && c > ' ' && c < 127 && c != '"' && c != '\\';
        } else if (flag == "--header") {
            ok = valid_header(v);
            if (ok) out.headers.emplace_back(v);
        } else if (flag == "--workload") {
            if (v == "shared-prefix") out.workload = Workload::shared_prefix;
            else if (v == "random") out.workload = Workload::random;
            else if (v == "burst") out.workload = Workload::burst;
            else ok = false;
        } else if (flag == "--groups") ok = parse_int(v, 1u, 1u << 20, out.groups);
        else if (flag == "--prompts-per-group") ok = parse_int(v, 1u, 1u << 20, out.prompts_per_group);
        else if (flag == "--system-tokens") ok = parse_int(v, 0u, 1u << 24, out.system_tokens);
        else if (flag == "--question-tokens") ok = parse_int(v, 0u, 1u << 24, out.question_tokens);
        else if (flag == "--prompt-tokens") ok = parse_int(v, 1u, 1u << 24, out.prompt_tokens);
        else if (flag == "--output-tokens") ok = parse_int(v, 1u, 1u << 24, out.output_tokens);
        else if (flag == "--chars-per-token") ok = parse_int(v, 1u, 64u, out.chars_per_token);
        else if (flag == "--burst") ok = parse_int(v, 1u, 1u << 20, out.burst);
        else if (flag == "--burst-window-ms") ok = parse_double(v, 0, 3.6e6, out.burst_window_ms);
        else if (flag == "--burst-delay") ok = parse_double(v, 0, 1e9, out.burst_delay);
        else if (flag == "--schedule") {
            ok = parse_schedule(v, out.schedule, err);
            have_schedule = true;
        } else if (flag == "--concurrency") ok = parse_int(v, 1u, 1u << 20, out.concurrency);
        else if (flag == "--requests") ok = parse_int(v, uint64_t{1}, uint64_t{1} << 40, out.requests);
        else if (flag == "--mix") ok = parse_mix(v, out.mix, err);
        else if (flag == "--class-header") {
            out.class_header = std::string(v);
            ok = valid_header(out.class_header + ": x");
        } else if (flag == "--timeout") ok = parse_double(v, 1e-3, 1e7, out.timeout);
        else if (flag == "--drain") ok = parse_double(v, 0, 1e7, out.drain);
        else if (flag == "--max-inflight") ok = parse_int(v, 1u, 1u << 24, out.max_inflight);
        else if (flag == "--route") ok = parse_route(v, out.route, err);
        else if (flag == "--time-scale") ok = parse_double(v, 1e-6, 1e9, out.time_scale);
        else if (flag == "--seed") ok = parse_int(v, uint64_t{0}, UINT64_MAX, out.seed);
        else if (flag == "--csv") out.csv = std::string(v);
        else if (flag == "--summary") out.summary = std::string(v);
        else {
            message = fmt::format("unknown flag {} (see --help)", flag);
            return ParseOutcome::error;
        }
        if (!ok) {
            message = err.empty() ? fmt::format("{}: invalid value '{}'", flag, v) : err;
            return ParseOutcome::error;
        }
    }

    auto fail = [&](std::string m) {
        message = std::move(m);
        return ParseOutcome::error;
    };
    if (out.targets.empty()) return fail("at least one --target is needed");
    if (out.route.mode == RouteMode::window && out.targets.size() < 2)
        return fail("--route window needs several --target (it chooses among them)");
    if (out.concurrency > 0) {
        if (have_schedule) return fail("--concurrency (closed loop) and --schedule (open loop) exclude each other");
        if (out.requests == 0) return fail("--concurrency needs --requests N");
        if (out.burst > 0 || out.workload == Workload::burst) return fail("--burst needs open loop (--schedule)");
    } else if (out.requests > 0) {
        return fail("--requests is for closed loop: give --concurrency too");
    }
    if (out.workload == Workload::burst) {
        if (out.burst == 0) return fail("--workload burst needs --burst N");
        if (have_schedule)
            return fail("--workload burst sends only the burst; for background load use "
                        "--workload shared-prefix|random with --schedule and --burst N");
    } else if (!have_schedule && out.concurrency == 0) {
        return fail("give --schedule (open loop) or --concurrency and --requests (closed loop)");
    }
    if (out.workload != Workload::random || out.burst > 0) {
        if (uint64_t(out.system_tokens) + out.question_tokens == 0)
            return fail("--system-tokens + --question-tokens must be > 0");
    }
    if (out.drain < 0) out.drain = out.timeout;
    return ParseOutcome::run;
}

}  // namespace infergate::loadgen
