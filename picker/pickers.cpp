// The pickers and the profile handler implemented so far.
#include "picker/builtin_plugins.hpp"

#include <cmath>

namespace infergate::picker {

namespace {

// Uniform in [0, n), n > 0, from the caller's generator.
size_t uniform_index(std::minstd_rand& rng, size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
}

}  // namespace

// Reference: picker/maxscore/picker.go. The reference shuffles and then
// stable-sorts by score; for one pick that is a uniform choice among the
// endpoints sharing the best total, done here in one pass by reservoir
// sampling (the k-th tie replaces the choice with probability 1/k), with no
// allocation.
size_t MaxScorePicker::pick(std::span<EndpointState* const> candidates,
                            std::span<const double> totals, std::minstd_rand& rng) const {
    size_t best = 0;
    size_t ties = 1;
    for (size_t i = 1; i < candidates.size(); ++i) {
        if (totals[i] > totals[best]) {
            best = i;
            ties = 1;
        } else if (totals[i] == totals[best]) {
            ++ties;
            if (uniform_index(rng, ties) == 0) best = i;
        }
    }
    return best;
}

// Reference: picker/random/picker.go.
size_t RandomPicker::pick(std::span<EndpointState* const> candidates, std::span<const double>,
                          std::minstd_rand& rng) const {
    return uniform_index(rng, candidates.size());
}

// Reference: picker/weightedrandom/picker.go. The reference draws a key
// U^(1/w) per endpoint (A-Res) and keeps the largest; for one pick that is
// exactly a draw with probability w / sum(w), done here in one pass with one
// random number and no allocation.
size_t WeightedRandomPicker::pick(std::span<EndpointState* const> candidates,
                                  std::span<const double> totals, std::minstd_rand& rng) const {
    double sum = 0;
    for (double t : totals)
        if (t > 0 && std::isfinite(t)) sum += t;
    if (!(sum > 0) || !std::isfinite(sum)) return uniform_index(rng, candidates.size());
    double x = std::uniform_real_distribution<double>(0, sum)(rng);
    size_t last = 0;
    for (size_t i = 0; i < totals.size(); ++i) {
        double t = totals[i];
        if (!(t > 0) || !std::isfinite(t)) continue;
        last = i;
        if (x < t) return i;
        x -= t;
    }
    return last;  // rounding left x at the very end: the last positive one
}

namespace {

// Reference: picker/common.go, PickerParameters / DefaultMaxNumOfEndpoints.
// The reference silently falls back to 1 for a value <= 0; we reject it.
int64_t max_num_of_endpoints(ParamReader& params) {
    return params.integer("maxNumOfEndpoints", 1, 1, INT32_MAX);
}

}  // namespace

std::unique_ptr<Plugin> make_max_score_picker(const config::PluginSpec& spec, ParamReader& params) {
    const int64_t n = max_num_of_endpoints(params);
    if (!params.ok()) return nullptr;
    return std::make_unique<MaxScorePicker>(plugin_name(spec), n);
}

std::unique_ptr<Plugin> make_random_picker(const config::PluginSpec& spec, ParamReader& params) {
    const int64_t n = max_num_of_endpoints(params);
    if (!params.ok()) return nullptr;
    return std::make_unique<RandomPicker>(plugin_name(spec), n);
}

std::unique_ptr<Plugin> make_weighted_random_picker(const config::PluginSpec& spec,
                                                    ParamReader& params) {
    const int64_t n = max_num_of_endpoints(params);
    if (!params.ok()) return nullptr;
    return std::make_unique<WeightedRandomPicker>(plugin_name(spec), n);
}

std::unique_ptr<Plugin> make_single_profile_handler(const config::PluginSpec& spec, ParamReader&) {
    return std::make_unique<SingleProfileHandler>(plugin_name(spec));
}

}  // namespace infergate::picker
