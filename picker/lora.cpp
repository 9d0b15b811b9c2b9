// lora-affinity-scorer: prefers endpoints that already run the requested
// LoRA adapter. Reads each endpoint's adapter hashes in place
// (EndpointState::lora_status): no allocation, no lock.
#include "picker/builtin_plugins.hpp"

namespace infergate::picker {

// Reference: scorer/loraaffinity/lora_affinity.go (LoraAffinityScorer.Score),
// same cases in the same order.
void LoraAffinityScorer::score(const SchedulingRequest& req, std::span<EndpointState* const> candidates,
                               std::span<double> out) const {
    const uint64_t h = adapter_hash(req.model);
    for (size_t i = 0; i < candidates.size(); ++i) {
        const LoraStatus s = candidates[i]->lora_status(h);
        if (s.running) out[i] = 1.0;
        else if (s.adapters < s.max_lora) out[i] = 0.8;
        else if (s.waiting) out[i] = 0.6;
        else out[i] = 0.0;
    }
}

std::unique_ptr<Plugin> make_lora_affinity_scorer(const config::PluginSpec& spec, ParamReader&) {
    return std::make_unique<LoraAffinityScorer>(plugin_name(spec));
}

}  // namespace infergate::picker
