// Per-request records and what is computed from them: the CSV lines and
// the JSON summary (per class, per stage, overall). Pure functions over
// the records, so unit tests check the arithmetic.
//
// Every time here is simulated time (real time x time_scale): the runner
// converts when it records.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace infergate::loadgen {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Record {
    uint64_t id = 0;
    uint32_t cls = 0;        // index into RunInfo::classes
    uint32_t stage = 0;      // index into RunInfo::stages (0 in closed loop)
    double scheduled_s = 0;  // when it was due, since the start
    double lag_ms = 0;       // how late it was issued
    int status = 0;          // HTTP status; 0: no response (error says why)
    double ttft_ms = kNaN;   // issue -> first event carrying text
    double e2e_ms = kNaN;    // issue -> end of the response
    double itl_ms = kNaN;    // mean gap per token after the first event
    uint32_t output_tokens = 0;
    uint32_t prompt_tokens = 0;
    int32_t replica = -1;  // index into RunInfo::replicas
    double end_s = kNaN;   // when it ended, since the start
    std::string error;     // empty: no error

    bool ok() const { return status == 200 && error.empty(); }
};

struct StageInfo {
    double qps = 0;
    double start_s = 0;
    double end_s = 0;
};

struct RunInfo {
    std::vector<std::string> classes;
    std::vector<std::string> replicas;
    std::vector<StageInfo> stages;  // empty: closed loop (one stage 0)
    std::string mode;               // "open" | "closed" | "burst"
    double nominal_end_s = 0;       // schedule end (0 when none)
    double wall_seconds = 0;        // simulated, start to last completion
    double cpu_seconds = 0;         // the generator's user + system CPU (real)
    long involuntary_switches = 0;  // times the OS took the CPU from it
    double time_scale = 1;
};

// p-th percentile (0..100) of sorted values, linear interpolation between
// closest ranks (numpy's default); NaN when empty.
double percentile(const std::vector<double>& sorted, double p);

std::string_view csv_header();
// One CSV line (with its newline); NaN fields are empty.
std::string csv_line(const Record& r, const RunInfo& info);

// The JSON summary document (see README.md for its fields).
std::string summary_json(const std::vector<Record>& records, const RunInfo& info);

// One line for stderr.
std::string summary_line(const std::vector<Record>& records, const RunInfo& info);

}  // namespace infergate::loadgen
