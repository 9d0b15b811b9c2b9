// infergate-loadgen: an LLM load generator for bench/ (OpenAI streaming
// completions against infergate-sim, directly or through a proxy). See
// README.md.
#include <cstdio>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "bench/loadgen/options.hpp"
#include "bench/loadgen/runner.hpp"

namespace {

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc | std::ios::binary);
    out << text;
    return bool(out.flush());
}

}  // namespace

int main(int argc, char** argv) {
    using namespace infergate::loadgen;
    Options opt;
    std::string message;
    switch (parse_args(argc, argv, opt, message)) {
        case ParseOutcome::help:
            fmt::print("{}", message);
            return 0;
        case ParseOutcome::error:
            fmt::print(stderr, "infergate-loadgen: {}\n", message);
            return 2;
        case ParseOutcome::run:
            break;
    }
    RunResult res;
    if (!run_load(opt, res, message)) {
        fmt::print(stderr, "infergate-loadgen: {}\n", message);
        return 1;
    }
    if (!opt.csv.empty()) {
        std::string text(csv_header());
        for (const Record& r : res.records) text += csv_line(r, res.info);
        if (!write_file(opt.csv, text)) {
            fmt::print(stderr, "infergate-loadgen: cannot write {}\n", opt.csv);
            return 1;
        }
    }
    if (!opt.summary.empty() && !write_file(opt.summary, summary_json(res.records, res.info))) {
        fmt::print(stderr, "infergate-loadgen: cannot write {}\n", opt.summary);
        return 1;
    }
    fmt::print(stderr, "{}", summary_line(res.records, res.info));
    return 0;
}
