// CSV and JSON summary; see stats.hpp.
#include "bench/loadgen/stats.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace infergate::loadgen {

namespace {

// Fields of a CSV line are ours or a server's header value: commas,
// quotes and line breaks would break the line, so they become spaces.
std::string csv_safe(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c == ',' || c == '"' || c == '\n' || c == '\r') c = ' ';
    return out;
}

std::string num(double v, int decimals = 3) {
    if (!std::isfinite(v)) return {};
    return fmt::format("{:.{}f}", v, decimals);
}

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += fmt::format("\\u{:04x}", unsigned(c));
        } else {
            out += c;
        }
    }
    out += '"';
}

std::string json_num(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : "null"; }

// Aggregate of one set of records (a class, a stage, or all).
struct Group {
    uint64_t count = 0, ok = 0, errors = 0, output_tokens = 0;
    std::map<int, uint64_t> statuses;
    std::map<std::string, uint64_t> error_kinds;
    std::vector<double> ttft, itl, e2e, lag;
    std::vector<uint64_t> replicas;
    double start_s = 0, end_s = 0;

    void add(const Record& r, size_t n_replicas) {
        if (replicas.empty()) replicas.assign(n_replicas, 0);
        ++count;
        ++statuses[r.status];
        lag.push_back(r.lag_ms);
        if (!r.error.empty()) {
            ++errors;
            ++error_kinds[r.error];
        }
        if (r.replica >= 0 && size_t(r.replica) < replicas.size()) ++replicas[r.replica];
        if (std::isfinite(r.end_s)) end_s = std::max(end_s, r.end_s);
        if (!r.ok()) return;
        ++ok;
        output_tokens += r.output_tokens;
        if (std::isfinite(r.ttft_ms)) ttft.push_back(r.ttft_ms);
        if (std::isfinite(r.itl_ms)) itl.push_back(r.itl_ms);
        if (std::isfinite(r.e2e_ms)) e2e.push_back(r.e2e_ms);
    }
};

void append_dist(std::string& out, std::string_view name, std::vector<double>& v) {
    std::sort(v.begin(), v.end());
    double mean = kNaN;
    if (!v.empty()) {
        double sum = 0;
        for (double x : v) sum += x;
        mean = sum / double(v.size());
    }
    out += fmt::format(R"("{}":{{"p50":{},"p90":{},"p99":{},"mean":{}}})", name, json_num(percentile(v, 50)),
                       json_num(percentile(v, 90)), json_num(percentile(v, 99)), json_num(mean));
}

void append_group(std::string& out, Group& g, const RunInfo& info) {
    const double wall = g.end_s - g.start_s;
    out += fmt::format(R"({{"count":{},"ok":{},"errors":{},"success_rate":{},"statuses":{{)", g.count, g.ok,
                       g.errors, json_num(g.count ? double(g.ok) / double(g.count) : kNaN));
    bool first = true;
    for (auto [code, n] : g.statuses) {
        out += fmt::format(R"({}"{}":{})", first ? "" : ",", code, n);
        first = false;
    }
    out += R"(},"error_kinds":{)";
    first = true;
    for (const auto& [text, n] : g.error_kinds) {
        if (!first) out += ',';
        append_json_string(out, text);
        out += fmt::format(":{}", n);
        first = false;
    }
    out += "},";
    append_dist(out, "ttft_ms", g.ttft);
    out += ',';
    append_dist(out, "itl_ms", g.itl);
    out += ',';
    append_dist(out, "e2e_ms", g.e2e);
    out += fmt::format(R"(,"output_tokens":{},"wall_seconds":{},"output_tokens_per_s":{},"requests_per_s":{})",
                       g.output_tokens, json_num(wall), json_num(wall > 0 ? double(g.output_tokens) / wall : kNaN),
                       json_num(wall > 0 ? double(g.ok) / wall : kNaN));
    out += R"(,"replicas":{)";
    first = true;
    for (size_t i = 0; i < g.replicas.size(); ++i) {
        if (g.replicas[i] == 0) continue;
        if (!first) out += ',';
        append_json_string(out, info.replicas[i]);
        out += fmt::format(":{}", g.replicas[i]);
        first = false;
    }
    out += "}}";
}

}  // namespace

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return kNaN;
    const double rank = p / 100.0 * double(sorted.size() - 1);
    const size_t lo = size_t(std::floor(rank));
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - double(lo));
}

std::string_view csv_header() {
    return "id,class,stage,scheduled_s,lag_ms,status,ttft_ms,e2e_ms,itl_mean_ms,output_tokens,prompt_tokens,"
           "replica,error\n";
}

std::string csv_line(const Record& r, const RunInfo& info) {
    const std::string_view cls = r.cls < info.classes.size() ? std::string_view(info.classes[r.cls]) : "";
    const std::string replica =
        r.replica >= 0 && size_t(r.replica) < info.replicas.size() ? csv_safe(info.replicas[r.replica]) : "";
    return fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{}\n", r.id, csv_safe(cls), r.stage,
                       num(r.scheduled_s, 6), num(r.lag_ms), r.status, num(r.ttft_ms), num(r.e2e_ms),
                       num(r.itl_ms), r.output_tokens, r.prompt_tokens, replica, csv_safe(r.error));
}

std::string summary_json(const std::vector<Record>& records, const RunInfo& info) {
    Group all;
    std::vector<Group> classes(info.classes.size());
    std::vector<Group> stages(std::max<size_t>(info.stages.size(), 1));
    all.end_s = info.nominal_end_s;
    for (auto& c : classes) c.end_s = info.nominal_end_s;
    for (size_t i = 0; i < info.stages.size(); ++i) {
        stages[i].start_s = info.stages[i].start_s;
        stages[i].end_s = info.stages[i].end_s;
    }
    for (const Record& r : records) {
        all.add(r, info.replicas.size());
        if (r.cls < classes.size()) classes[r.cls].add(r, info.replicas.size());
        if (r.stage < stages.size()) stages[r.stage].add(r, info.replicas.size());
    }
    std::vector<double> lag = all.lag;
    std::sort(lag.begin(), lag.end());

    std::string out = "{";
    out += fmt::format(R"J("mode":"{}","time_scale":{},"times":"simulated (real x time_scale)",)J", info.mode,
                       json_num(info.time_scale));
    out += fmt::format(R"("wall_seconds":{},"cpu_seconds":{},"involuntary_context_switches":{},)"
                       R"("lag_ms":{{"max":{},"p99":{}}},)",
                       json_num(info.wall_seconds), json_num(info.cpu_seconds), info.involuntary_switches,
                       json_num(lag.empty() ? 0.0 : lag.back()), json_num(lag.empty() ? 0.0 : percentile(lag, 99)));
    out += R"("overall":)";
    append_group(out, all, info);
    out += R"(,"classes":{)";
    bool first = true;
    for (size_t i = 0; i < classes.size(); ++i) {
        if (classes[i].count == 0) continue;
        if (!first) out += ',';
        append_json_string(out, info.classes[i]);
        out += ':';
        append_group(out, classes[i], info);
        first = false;
    }
    out += R"(},"stages":[)";
    for (size_t i = 0; i < stages.size(); ++i) {
        if (i) out += ',';
        if (i < info.stages.size()) {
            out += fmt::format(R"({{"stage":{},"qps":{},"start_s":{},"end_s":{},"summary":)", i,
                               json_num(info.stages[i].qps), json_num(info.stages[i].start_s),
                               json_num(info.stages[i].end_s));
        } else {
            out += fmt::format(R"({{"stage":{},"qps":null,"start_s":0,"end_s":null,"summary":)", i);
        }
        append_group(out, stages[i], info);
        out += '}';
    }
    out += "]}\n";
    return out;
}

std::string summary_line(const std::vector<Record>& records, const RunInfo& info) {
    Group all;
    all.end_s = info.nominal_end_s;
    for (const Record& r : records) all.add(r, info.replicas.size());
    std::sort(all.ttft.begin(), all.ttft.end());
    std::sort(all.itl.begin(), all.itl.end());
    std::sort(all.lag.begin(), all.lag.end());
    const double wall = info.wall_seconds;
    auto ms = [](double v, int decimals) { return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : "-"; };
    return fmt::format(
        "infergate-loadgen: {} requests, {} ok, {} not ok; ttft p50 {} p99 {} ms, itl p50 {} ms, "
        "{:.0f} output tok/s (simulated time, scale {}); lag max {:.1f} ms; cpu {:.2f} s over {:.2f} real s\n",
        all.count, all.ok, all.count - all.ok, ms(percentile(all.ttft, 50), 1), ms(percentile(all.ttft, 99), 1),
        ms(percentile(all.itl, 50), 2), wall > 0 ? double(all.output_tokens) / wall : 0.0, info.time_scale,
        all.lag.empty() ? 0.0 : all.lag.back(), info.cpu_seconds, wall / info.time_scale);
}

}  // namespace infergate::loadgen
