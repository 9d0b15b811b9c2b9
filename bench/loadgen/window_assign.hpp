// The joint assignment of one batching window, as the reference's
// burst-prefix-cache-producer computes it (llm-d-router ebab687927f5,
// pkg/epp/framework/plugins/requestcontrol/dataproducer/burstprefix/
// assign.go; README.md there): requests with identical prompt prefixes
// form groups, placed whole (or capped at max_per_replica = k per
// replica); with min_colocate_blocks > 0, single requests sharing that
// many leading blocks with another request become units too, and a unit
// prefers the replica holding the longest shared prefix while that
// replica is under its fair share of the window; otherwise the least
// loaded replica (window-local load, then running requests, then lower
// index). Longer prefixes first, identical groups before singletons.
//
// Deviation: replicas are indices (the load generator's --target order)
// and the "lower name" tie-break is "lower index"; "running requests"
// is the load generator's own in-flight count per target (it has no
// scraped metrics). Requests left unassigned (no affinity) are the
// caller's to balance.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace infergate::loadgen {

inline constexpr int kUnlimitedPerReplica = -1;

struct WindowEntry {
    std::vector<uint64_t> hashes;  // chained prefix block hashes of the prompt
    int assigned = -1;             // replica index, -1: no affinity
};

// Assigns entries to replicas 0..running.size()-1 (running[i] = requests
// in flight on replica i, the tie-break). k = max per replica per unit
// (kUnlimitedPerReplica or >= 1).
void assign_window(std::span<WindowEntry> entries, std::span<const int64_t> running, int k,
                   int min_colocate_blocks, bool by_tokens);

}  // namespace infergate::loadgen
