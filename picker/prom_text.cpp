// Prometheus text exposition format 0.0.4, as served by vLLM and SGLang.
//
// A hand-written line parser over std::string_view: every read is bounds
// checked through Cursor, nothing throws on malformed input, and a line
// that does not parse is dropped whole (a half-parsed sample is never
// kept). Grammar per line, after leading blanks:
//   '#' ...                                     comment, HELP, TYPE: skipped
//   name [blanks] ['{' label="value" {, ...} [,] '}'] blanks value [blanks timestamp] [blanks]
// name: [a-zA-Z_:][a-zA-Z0-9_:]*, label: [a-zA-Z_][a-zA-Z0-9_]*,
// label value escapes: \\ \" \n (any other escape rejects the line),
// value: a float, NaN, +Inf, -Inf (case-insensitive, as Go's ParseFloat
// used by the reference's expfmt parser), timestamp: an integer (ignored).
#include "picker/prom_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace infergate::picker {

namespace {

struct Cursor {
    std::string_view s;
    size_t i = 0;

    bool done() const { return i >= s.size(); }
    char peek() const { return done() ? '\0' : s[i]; }
    void skip_blanks() {
        while (!done() && (s[i] == ' ' || s[i] == '\t')) ++i;
    }
};

bool name_start(char c, bool colon_ok) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
}
bool name_char(char c, bool colon_ok) { return name_start(c, colon_ok) || (c >= '0' && c <= '9'); }

// Metric names may contain ':' (vllm:num_requests_waiting); label names may not.
std::string_view read_name(Cursor& c, bool colon_ok) {
    const size_t start = c.i;
    if (c.done() || !name_start(c.s[c.i], colon_ok)) return {};
    ++c.i;
    while (!c.done() && name_char(c.s[c.i], colon_ok)) ++c.i;
    return c.s.substr(start, c.i - start);
}

// After the opening quote; consumes the closing quote.
bool read_label_value(Cursor& c, std::string& out) {
    while (!c.done()) {
        const char ch = c.s[c.i++];
        if (ch == '"') return true;
        if (ch != '\\') {
            out += ch;
            continue;
        }
        if (c.done()) return false;
        const char esc = c.s[c.i++];
        switch (esc) {
            case '\\': out += '\\'; break;
            case '"': out += '"'; break;
            case 'n': out += '\n'; break;
            default: return false;
        }
    }
    return false;  // unterminated
}

bool read_labels(Cursor& c, std::vector<std::pair<std::string, std::string>>& labels) {
    ++c.i;  // '{'
    for (;;) {
        c.skip_blanks();
        if (c.peek() == '}') {
            ++c.i;
            return true;
        }
        const std::string_view key = read_name(c, false);
        if (key.empty()) return false;
        c.skip_blanks();
        if (c.peek() != '=') return false;
        ++c.i;
        c.skip_blanks();
        if (c.peek() != '"') return false;
        ++c.i;
        std::string value;
        if (!read_label_value(c, value)) return false;
        labels.emplace_back(std::string(key), std::move(value));
        c.skip_blanks();
        if (c.peek() == ',') {
            ++c.i;  // a trailing comma before '}' is allowed, as in expfmt
            continue;
        }
        if (c.peek() != '}') return false;
    }
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x | 0x20) == (y | 0x20);
           });
}

bool parse_value(std::string_view tok, double& out) {
    if (tok.empty()) return false;
    bool neg = false;
    std::string_view body = tok;
    if (body[0] == '+' || body[0] == '-') {
        neg = body[0] == '-';
        body.remove_prefix(1);
        if (body.empty()) return false;
    }
    if (iequals(body, "inf") || iequals(body, "infinity")) {
        out = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
        return true;
    }
    if (iequals(body, "nan")) {
        out = std::numeric_limits<double>::quiet_NaN();
        return true;
    }
    // from_chars rejects a leading '+', hence the manual sign; a second
    // sign ("+-1") is rejected by the check below.
    if (body[0] == '+' || body[0] == '-') return false;
    double v = 0;
    const auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
    if (ec != std::errc() || end != body.data() + body.size()) return false;  // overflow included
    out = neg ? -v : v;
    return true;
}

bool parse_timestamp(std::string_view tok) {
    int64_t ts = 0;
    if (!tok.empty() && tok[0] == '+') tok.remove_prefix(1);
    const auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), ts);
    return !tok.empty() && ec == std::errc() && end == tok.data() + tok.size();
}

std::string_view read_token(Cursor& c) {
    const size_t start = c.i;
    while (!c.done() && c.s[c.i] != ' ' && c.s[c.i] != '\t') ++c.i;
    return c.s.substr(start, c.i - start);
}

// One line without its terminator. False when the line is not a sample.
bool parse_line(std::string_view line, Sample& out) {
    Cursor c{line};
    c.skip_blanks();
    if (c.done() || c.peek() == '#') return false;
    const std::string_view name = read_name(c, true);
    if (name.empty()) return false;
    out.name.assign(name);
    out.labels.clear();
    size_t before_blank = c.i;
    c.skip_blanks();
    if (c.peek() == '{') {
        if (!read_labels(c, out.labels)) return false;
        before_blank = c.i;
        c.skip_blanks();
    }
    if (c.i == before_blank) return false;  // the value must follow a blank
    if (!parse_value(read_token(c), out.value)) return false;
    c.skip_blanks();
    if (!c.done() && !parse_timestamp(read_token(c))) return false;
    c.skip_blanks();
    return c.done();
}

}  // namespace

const Sample* ParsedMetrics::find(std::string_view name) const {
    for (const Sample& s : samples)
        if (s.name == name) return &s;
    return nullptr;
}

ParsedMetrics parse_prometheus_text(std::string_view text) {
    ParsedMetrics out;
    Sample sample;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (parse_line(line, sample)) out.samples.push_back(std::move(sample));
        sample = Sample{};
    }
    return out;
}

namespace {

enum class Combine { sum, max };

// The engine may expose one series per model_name (several served models,
// LoRA) or per engine rank (vLLM data parallelism: engine="0", "1", ...).
// Counts of requests add up across series; a utilisation does not, so the
// fullest series is the endpoint's usage. false when no series exists or
// any is not finite.
//
// The reference (llm-d-router ebab687927f5,
// pkg/epp/framework/plugins/datalayer/extractor/metrics/spec.go,
// Spec.getLatestMetric) keeps just one series: the one with the newest
// timestamp, i.e. the first one in input order when none carries a
// timestamp, as vLLM's do. We sum/max instead, as the contract in
// prom_text.hpp says: identical for the usual single series, and it counts
// every rank of a data-parallel vLLM instead of only rank 0.
bool combine(const ParsedMetrics& p, std::string_view name, Combine how, double& out) {
    bool found = false;
    double acc = 0;
    for (const Sample& s : p.samples) {
        if (s.name != name) continue;
        if (!std::isfinite(s.value)) return false;
        if (!found) acc = s.value;
        else acc = how == Combine::sum ? acc + s.value : std::max(acc, s.value);
        found = true;
    }
    if (!found || !std::isfinite(acc)) return false;
    out = acc;
    return true;
}

bool has(const ParsedMetrics& p, std::string_view name) { return p.find(name) != nullptr; }

}  // namespace

// Metric names follow the reference's defaultEngineConfigs
// (pkg/epp/framework/plugins/datalayer/extractor/metrics/factories.go):
// vllm: num_requests_waiting / num_requests_running / kv_cache_usage_perc,
// sglang: num_queue_reqs / num_running_reqs / token_usage. The reference has
// no fallback for vLLM's KV metric; we also read gpu_cache_usage_perc,
// the name vLLM used before 0.10 (it still exports both, deprecated).
std::optional<EngineMetrics> extract_engine_metrics(const ParsedMetrics& parsed,
                                                    config::Engine engine) {
    std::string_view waiting, running, usage;
    if (engine == config::Engine::sglang) {
        waiting = "sglang:num_queue_reqs";
        running = "sglang:num_running_reqs";
        usage = "sglang:token_usage";
    } else {
        waiting = "vllm:num_requests_waiting";
        running = "vllm:num_requests_running";
        usage = has(parsed, "vllm:kv_cache_usage_perc") ? "vllm:kv_cache_usage_perc"
                                                        : "vllm:gpu_cache_usage_perc";
    }
    EngineMetrics m;
    if (!combine(parsed, waiting, Combine::sum, m.waiting)) return std::nullopt;
    if (!combine(parsed, running, Combine::sum, m.running)) return std::nullopt;
    if (!combine(parsed, usage, Combine::max, m.kv_usage)) return std::nullopt;
    // The reference's sglang mapping has no LoRA spec (factories.go).
    if (engine == config::Engine::vllm) {
        m.lora = extract_lora_adapters(parsed);
        m.kv_capacity_tokens = extract_vllm_kv_capacity(parsed);
    }
    return m;
}

// vllm:cache_config_info is an info gauge: value 1, the CacheConfig in its
// labels. Capacity = num_gpu_blocks x block_size; 0 when either is missing
// or not a positive integer (e.g. "None" before the profiling run).
double extract_vllm_kv_capacity(const ParsedMetrics& parsed) {
    const Sample* s = parsed.find("vllm:cache_config_info");
    if (!s) return 0;
    double blocks = 0, block_size = 0;
    for (const auto& [k, v] : s->labels) {
        double* dst = k == "num_gpu_blocks" ? &blocks : k == "block_size" ? &block_size : nullptr;
        if (!dst) continue;
        uint64_t n = 0;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec == std::errc() && end == v.data() + v.size() && n > 0) *dst = double(n);
    }
    return blocks * block_size;
}

namespace {

// ASCII white space, as Go's strings.TrimSpace for ASCII input.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim_space(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

template <typename Add>
void split_adapters(std::string_view csv, Add add) {
    while (!csv.empty()) {
        const size_t comma = csv.find(',');
        const std::string_view name = trim_space(csv.substr(0, comma));
        if (!name.empty()) add(name);
        if (comma == std::string_view::npos) break;
        csv.remove_prefix(comma + 1);
    }
}

}  // namespace

// Reference: pkg/epp/framework/plugins/datalayer/extractor/metrics/loraspec.go
// (LoRASpec.getLatestMetric: latest by value, strictly greater, starting
// from -1) and extractor.go (populateLoRAMetrics, addAdapters).
//
// Where we differ: with no series the reference keeps the adapters of the
// previous scrape (it updates a clone of the last metrics), and a bad
// max_lora keeps the previous max too. We publish what this scrape says:
// vLLM never drops a series once set (prometheus_client keeps every label
// set), so a missing family means a fresh engine, whose adapters are gone.
LoraAdapters extract_lora_adapters(const ParsedMetrics& parsed) {
    const Sample* latest = nullptr;
    double recent = -1;
    for (const Sample& s : parsed.samples) {
        if (s.name != "vllm:lora_requests_info") continue;
        if (s.value > recent) {  // false for NaN
            recent = s.value;
            latest = &s;
        }
    }
    LoraAdapters out;
    if (!latest) return out;
    for (const auto& [key, value] : latest->labels) {
        if (key == "running_lora_adapters") {
            split_adapters(value, [&](std::string_view n) { out.add_running(n); });
        } else if (key == "waiting_lora_adapters") {
            split_adapters(value, [&](std::string_view n) { out.add_waiting(n); });
        } else if (key == "max_lora") {
            int64_t v = 0;
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            out.max_lora = ec == std::errc() && end == value.data() + value.size() && v > 0 ? v : 0;
        }
    }
    return out;
}

}  // namespace infergate::picker
