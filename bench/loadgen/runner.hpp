// The load generator's run: one io_context on one thread drives the
// senders (open-loop Poisson stages, a burst, or closed-loop workers),
// the optional batching window, and one coroutine per request over a
// keep-alive connection pool per target. See README.md.
#pragma once

#include <string>
#include <vector>

#include "bench/loadgen/options.hpp"
#include "bench/loadgen/stats.hpp"

namespace infergate::loadgen {

struct RunResult {
    std::vector<Record> records;  // by id
    RunInfo info;
};

// Runs the whole load; false with `error` set when it cannot start
// (unresolvable target). Failed requests are records, not errors.
bool run_load(const Options& opt, RunResult& out, std::string& error);

}  // namespace infergate::loadgen
