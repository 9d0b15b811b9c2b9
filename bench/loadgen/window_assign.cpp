// Window assignment after burstprefix/assign.go; see window_assign.hpp.
#include "bench/loadgen/window_assign.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace infergate::loadgen {

namespace {

using Hashes = std::vector<uint64_t>;

// Which replicas hold each block placed so far in this window (the
// reference's batchIndex). A unit's whole prefix is added at once, so
// holding block i implies holding blocks 0..i.
class BatchIndex {
public:
    explicit BatchIndex(size_t replicas) : replicas_(replicas) {}

    void add(const Hashes& h, size_t replica) {
        for (uint64_t b : h) {
            auto& holders = holders_[b];
            if (holders.empty()) holders.assign(replicas_, 0);
            holders[replica] = 1;
        }
    }

    // Per replica, the leading blocks it holds (longestPrefix).
    std::vector<int> longest_prefix(const Hashes& h) const {
        std::vector<int> res(replicas_, 0);
        for (uint64_t b : h) {
            auto it = holders_.find(b);
            if (it == holders_.end()) break;
            for (size_t r = 0; r < replicas_; ++r) res[r] += it->second[r];
        }
        return res;
    }

private:
    size_t replicas_;
    std::unordered_map<uint64_t, std::vector<uint8_t>> holders_;
};

struct Ctx {
    std::span<const int64_t> running;
    int k;
    int min_colocate;
    int max_share;
    bool by_tokens;
    std::vector<int> load;  // window-local load (requests or blocks)
};

// Replica a preferred over b: lower window load, fewer running, lower index.
bool less(const Ctx& c, size_t a, size_t b) {
    if (c.load[a] != c.load[b]) return c.load[a] < c.load[b];
    if (c.running[a] != c.running[b]) return c.running[a] < c.running[b];
    return a < b;
}

size_t pick_least_loaded(const Ctx& c, const std::vector<int>& per_replica) {
    const size_t n = c.load.size();
    size_t best = n;
    for (size_t r = 0; r < n; ++r) {
        if (c.k != kUnlimitedPerReplica && per_replica[r] >= c.k) continue;
        if (best == n || less(c, r, best)) best = r;
    }
    if (best != n) return best;
    for (size_t r = 0; r < n; ++r)
        if (best == n || less(c, r, best)) best = r;
    return best;
}

size_t pick_replica(const Ctx& c, const std::vector<int>& per_replica, const std::vector<int>& matches,
                    bool prefer_match) {
    if (prefer_match) {
        const size_t n = c.load.size();
        size_t best = n;
        int best_match = 0;
        for (size_t r = 0; r < n; ++r) {
            if (c.k != kUnlimitedPerReplica && per_replica[r] >= c.k) continue;
            if (c.load[r] >= c.max_share) continue;  // at fair share
            const int m = matches[r];
            if (m < c.min_colocate) continue;
            if (best == n || m > best_match || (m == best_match && less(c, r, best))) {
                best = r;
                best_match = m;
            }
        }
        if (best != n) return best;
    }
    return pick_least_loaded(c, per_replica);
}

// placeGroup: one unit (an identical group or a prefix-sharing single).
void place_unit(std::span<WindowEntry> entries, const std::vector<size_t>& members, int cost, Ctx& c,
                BatchIndex& idx) {
    const Hashes& hashes = entries[members[0]].hashes;
    bool prefer_match = c.min_colocate > 0;
    std::vector<int> matches;
    if (prefer_match || c.by_tokens) matches = idx.longest_prefix(hashes);
    std::vector<int> per_replica(c.load.size(), 0);
    size_t i = 0;
    while (i < members.size()) {
        const size_t target = pick_replica(c, per_replica, matches, prefer_match);
        size_t run = members.size() - i;
        if (c.k != kUnlimitedPerReplica) {
            // Overflow (more members than k x replicas): place one and rebalance.
            const size_t cap_left = size_t(std::max(1, c.k - per_replica[target]));
            run = std::min(run, cap_left);
        }
        for (size_t j = 0; j < run; ++j) entries[members[i + j]].assigned = int(target);
        const bool first_touch = per_replica[target] == 0;
        per_replica[target] += int(run);
        if (!c.by_tokens) {
            c.load[target] += int(run);
        } else if (first_touch) {
            // The prefix is charged once per replica, minus blocks held there.
            c.load[target] += std::max(0, cost - matches[target]);
        }
        i += run;
        prefer_match = false;  // only the primary replica gets the preference
    }
    for (size_t m : members) idx.add(hashes, size_t(entries[m].assigned));
}

}  // namespace

void assign_window(std::span<WindowEntry> entries, std::span<const int64_t> running, int k,
                   int min_colocate_blocks, bool by_tokens) {
    if (running.empty()) return;
    // Groups of identical prompt prefixes, in first-arrival order.
    std::map<Hashes, size_t> key_to_group;
    std::vector<std::vector<size_t>> groups;
    for (size_t i = 0; i < entries.size(); ++i) {
        if (entries[i].hashes.empty()) continue;  // no prefix: never grouped
        auto [it, fresh] = key_to_group.try_emplace(entries[i].hashes, groups.size());
        if (fresh) groups.emplace_back();
        groups[it->second].push_back(i);
    }

    // sharedPrefixKeys: groups sharing min_colocate_blocks leading blocks
    // with some other request of the window.
    std::vector<bool> shared(groups.size(), false);
    if (min_colocate_blocks > 0) {
        std::map<Hashes, size_t> sig_count;
        std::vector<Hashes> sigs(groups.size());
        for (size_t g = 0; g < groups.size(); ++g) {
            const Hashes& h = entries[groups[g][0]].hashes;
            if (h.size() < size_t(min_colocate_blocks)) continue;
            sigs[g].assign(h.begin(), h.begin() + min_colocate_blocks);
            sig_count[sigs[g]] += groups[g].size();
        }
        for (size_t g = 0; g < groups.size(); ++g)
            shared[g] = !sigs[g].empty() && sig_count[sigs[g]] >= 2;
    }

    std::vector<size_t> group_units, single_units;
    for (size_t g = 0; g < groups.size(); ++g) {
        if (groups[g].size() >= 2) group_units.push_back(g);
        else if (shared[g]) single_units.push_back(g);
    }
    if (group_units.empty() && single_units.empty()) return;
    auto blocks = [&](size_t g) { return int(entries[groups[g][0]].hashes.size()); };
    auto longest_first = [&](size_t a, size_t b) { return blocks(a) > blocks(b); };
    std::stable_sort(group_units.begin(), group_units.end(), longest_first);
    std::stable_sort(single_units.begin(), single_units.end(), longest_first);

    int total = 0;
    for (const auto* units : {&group_units, &single_units})
        for (size_t g : *units) total += by_tokens ? blocks(g) : int(groups[g].size());
    const int n = int(running.size());
    Ctx c{running, k, min_colocate_blocks, (total + n - 1) / n, by_tokens, std::vector<int>(running.size(), 0)};
    BatchIndex idx(running.size());
    for (size_t g : group_units) place_unit(entries, groups[g], blocks(g), c, idx);
    for (size_t g : single_units) place_unit(entries, groups[g], blocks(g), c, idx);
}

}  // namespace infergate::loadgen
