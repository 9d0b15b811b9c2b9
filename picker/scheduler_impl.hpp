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

class SaturationDetector;  // picker/utilization.hpp

class Scheduler {
public:
    struct WeightedScorer {
        const Scorer* scorer;
        double weight;
    };

    Scheduler(std::vector<std::unique_ptr<Plugin>> plugins, std::string profile,
              std::vector<const Filter*> filters, std::vector<WeightedScorer> scorers,
              const Picker* picker, std::vector<const DataProducer*> producers = {})
        : plugins_(std::move(plugins)),
          profile_(std::move(profile)),
          filters_(std::move(filters)),
          scorers_(std::move(scorers)),
          picker_(picker),
          producers_(std::move(producers)) {
        for (const WeightedScorer& ws : scorers_)
            if (ws.scorer->wants_pre_request()) pre_request_scorers_.push_back(ws.scorer);
        for (const auto& p : plugins_)
            if (!p->echo_header().empty()) echo_headers_.emplace_back(p->echo_header());
    }

    // Runs the profile over scratch.candidates (non-empty): filters shrink
    // it in place, the data producers fill their scratch slots, each
    // scorer's score (clamped to [0, 1], NaN as 0) times
    // its weight is summed into scratch.totals, each candidate's total is
    // stored in its last_score, and the picker chooses. Null when the
    // filters removed every candidate. After the pick, producers and
    // stateful scorers record the decision (pre_request). No allocation
    // once the scratch vectors have grown to the pool's size.
    EndpointState* run(const SchedulingRequest& req, PickScratch& scratch) const;

    const std::string& profile() const { return profile_; }
    const std::vector<const Filter*>& filters() const { return filters_; }
    const std::vector<WeightedScorer>& scorers() const { return scorers_; }
    const Picker& picker() const { return *picker_; }
    const std::vector<std::unique_ptr<Plugin>>& plugins() const { return plugins_; }
    const std::vector<const DataProducer*>& producers() const { return producers_; }
    const std::vector<std::string>& echo_headers() const { return echo_headers_; }

    // The pool's saturation detector (never null once built): admission
    // sheds sheddable requests when it reports >= 1.0 (PoolPicker::pick).
    const SaturationDetector* saturation_detector() const { return detector_; }
    // While building only: `owned`, when set, is a detector the config did
    // not list (the default one); the scheduler keeps it alive.
    void set_saturation_detector(const SaturationDetector* d, std::unique_ptr<Plugin> owned) {
        detector_ = d;
        if (owned) plugins_.push_back(std::move(owned));
    }

private:
    void demote_full(PickScratch& scratch, size_t n) const;

    std::vector<std::unique_ptr<Plugin>> plugins_;  // owns everything below
    std::string profile_;
    std::vector<const Filter*> filters_;
    std::vector<WeightedScorer> scorers_;
    const Picker* picker_;
    std::vector<const DataProducer*> producers_;     // slot i of PickScratch::prefix
    std::vector<const Scorer*> pre_request_scorers_;
    std::vector<std::string> echo_headers_;
    const SaturationDetector* detector_ = nullptr;
};

}  // namespace infergate::picker
