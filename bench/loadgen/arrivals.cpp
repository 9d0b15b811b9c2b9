// Poisson arrivals over stages and the class draw; see arrivals.hpp.
#include "bench/loadgen/arrivals.hpp"

#include <algorithm>
#include <cmath>

namespace infergate::loadgen {

PoissonArrivals::PoissonArrivals(std::vector<Stage> stages, uint64_t seed)
    : stages_(std::move(stages)), rng_(seed) {
    starts_.reserve(stages_.size() + 1);
    double t = 0;
    starts_.push_back(t);
    for (const Stage& s : stages_) starts_.push_back(t += s.seconds);
}

std::optional<Arrival> PoissonArrivals::next() {
    while (stage_ < stages_.size()) {
        const double end = starts_[stage_ + 1];
        const double qps = stages_[stage_].qps;
        if (qps > 0) {
            // -ln(U)/rate with U in (0, 1]: never an infinite gap.
            const double u = 1.0 - std::generate_canonical<double, 64>(rng_);
            const double next = t_ - std::log(u) / qps;
            if (next < end) {
                t_ = next;
                return Arrival{t_, uint32_t(stage_)};
            }
        }
        t_ = end;
        ++stage_;
    }
    return std::nullopt;
}

uint32_t PoissonArrivals::stage_at(double t) const {
    if (stages_.empty()) return 0;
    const auto it = std::upper_bound(starts_.begin() + 1, starts_.end() - 1, t);
    return uint32_t(it - (starts_.begin() + 1));
}

ClassPicker::ClassPicker(std::span<const ClassWeight> mix, uint64_t seed) : rng_(seed) {
    double sum = 0;
    for (const auto& c : mix) cumulative_.push_back(sum += c.weight);
}

uint32_t ClassPicker::next() {
    if (cumulative_.size() <= 1) return 0;
    const double x = std::generate_canonical<double, 64>(rng_) * cumulative_.back();
    const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), x);
    return uint32_t(std::min<size_t>(it - cumulative_.begin(), cumulative_.size() - 1));
}

}  // namespace infergate::loadgen
