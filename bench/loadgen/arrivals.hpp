// Open-loop arrivals: a Poisson process whose rate is piecewise constant
// over the --schedule stages, and the seeded random draws of the load
// generator (class mix). Pure, deterministic given the seed.
//
// A stage boundary restarts the exponential draw at the boundary with the
// next stage's rate: the Poisson process is memoryless, so this is exact
// for a piecewise-constant rate (an arrival drawn past the boundary at the
// old rate is discarded, not carried over).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "bench/loadgen/options.hpp"

namespace infergate::loadgen {

struct Arrival {
    double t = 0;        // simulated seconds since the start
    uint32_t stage = 0;  // index into the schedule
};

class PoissonArrivals {
public:
    PoissonArrivals(std::vector<Stage> stages, uint64_t seed);

    // The next arrival, or nullopt after the last stage ends.
    std::optional<Arrival> next();

    // Start of stage i (simulated s); i == size() gives the schedule's end.
    double stage_start(size_t i) const { return starts_[i]; }
    double end() const { return starts_.back(); }
    // The stage holding time t (the last one for t >= end()).
    uint32_t stage_at(double t) const;

private:
    std::vector<Stage> stages_;
    std::vector<double> starts_;  // size() + 1 entries
    std::mt19937_64 rng_;
    size_t stage_ = 0;
    double t_ = 0;
};

// Draws a class index with probability weight / sum of weights.
class ClassPicker {
public:
    ClassPicker(std::span<const ClassWeight> mix, uint64_t seed);
    uint32_t next();

private:
    std::vector<double> cumulative_;
    std::mt19937_64 rng_;
};

}  // namespace infergate::loadgen
