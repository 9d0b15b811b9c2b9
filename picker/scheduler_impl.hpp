// The Scheduler behind the opaque declaration in scheduler.hpp: one
// scheduling profile (filters, weighted scorers, one picker) and the
// plugins it owns. Built by build_scheduler (build.cpp); immutable and
// shared by every worker afterwards.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "picker/plugin.hpp"
#include "picker/scheduler.hpp"

namespace infergate::picker {

class Scheduler {
public:
    struct WeightedScorer {
        const Scorer* scorer;
        double weight;
    };

    Scheduler(std::vector<std::unique_ptr<Plugin>> plugins, std::string profile,
              std::vector<const Filter*> filters, std::vector<WeightedScorer> scorers,
              const Picker* picker)
        : plugins_(std::move(plugins)),
          profile_(std::move(profile)),
          filters_(std::move(filters)),
          scorers_(std::move(scorers)),
          picker_(picker) {}

    // Runs the profile over scratch.candidates (non-empty): filters shrink
    // it in place, each scorer's score (clamped to [0, 1], NaN as 0) times
    // its weight is summed into scratch.totals, each candidate's total is
    // stored in its last_score, and the picker chooses. Null when the
    // filters removed every candidate. No allocation once the scratch
    // vectors have grown to the pool's size.
    EndpointState* run(const SchedulingRequest& req, PickScratch& scratch) const;

    const std::string& profile() const { return profile_; }
    const std::vector<const Filter*>& filters() const { return filters_; }
    const std::vector<WeightedScorer>& scorers() const { return scorers_; }
    const Picker& picker() const { return *picker_; }
    const std::vector<std::unique_ptr<Plugin>>& plugins() const { return plugins_; }

private:
    std::vector<std::unique_ptr<Plugin>> plugins_;  // owns everything below
    std::string profile_;
    std::vector<const Filter*> filters_;
    std::vector<WeightedScorer> scorers_;
    const Picker* picker_;
};

}  // namespace infergate::picker
