// The window route's joint assignment, table-driven after the
// reference's burstprefix/assign_test.go (llm-d-router ebab687927f5):
// same groups, same expected placements; replicas are indices
// (pod1 = 0, pod2 = 1, ...).
#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "bench/loadgen/window_assign.hpp"

using namespace infergate::loadgen;

namespace {

using Hashes = std::vector<uint64_t>;

// One unit of the batch: n requests with identical hashes.
struct Unit {
    int n;
    Hashes hashes;
};

struct Case {
    const char* name;
    int replicas;
    std::vector<Unit> units;
    int k, min_colocate;
    bool by_tokens;
    // Expected replica of each unit's first member (-1: none), or empty
    // when only the counts are checked; -2: any, checked by `same`.
    std::vector<int> first;
    std::map<int, int> counts;                // replica -> requests (-1: unassigned)
    std::vector<std::pair<int, int>> same;    // units placed on one replica
    std::vector<std::pair<int, int>> differ;  // units placed on different replicas
};

}  // namespace

TEST_CASE("window assignment mirrors assign_test.go") {
    const std::vector<Case> cases = {
        {"unlimited co-locates whole group", 4, {{8, {1, 2, 3}}}, -1, 0, false, {0}, {{0, 8}}, {}, {}},
        {"cap spreads evenly", 4, {{8, {1, 2, 3}}}, 2, 0, false, {}, {{0, 2}, {1, 2}, {2, 2}, {3, 2}}, {}, {}},
        {"cap fills before spilling", 4, {{8, {1, 2, 3}}}, 4, 0, false, {}, {{0, 4}, {1, 4}}, {}, {}},
        {"singleton gets no affinity", 2, {{1, {1, 2, 3}}}, -1, 0, false, {-1}, {{-1, 1}}, {}, {}},
        {"empty prefix gets no affinity", 2, {{2, {}}}, -1, 0, false, {-1}, {{-1, 2}}, {}, {}},
        {"distinct groups spread", 4, {{8, {1, 2, 3}}, {8, {9, 9, 9}}}, -1, 0, false, {0, 1}, {{0, 8}, {1, 8}}, {}, {}},
        {"families co-locate within fair share", 2,
         {{2, {1, 2, 3}}, {2, {1, 2, 4}}, {2, {7, 8, 5}}, {2, {7, 8, 6}}}, -1, 2, false, {},
         {{0, 4}, {1, 4}}, {{0, 1}, {2, 3}}, {{0, 2}}},
        {"fair share spreads prefix-sharing groups", 4,
         {{2, {1, 2, 3}}, {2, {1, 2, 4}}, {2, {1, 2, 5}}, {2, {1, 2, 6}}}, -1, 2, false, {},
         {{0, 2}, {1, 2}, {2, 2}, {3, 2}}, {}, {}},
        {"singleton attaches to overlapping group", 2,
         {{2, {1, 2, 3}}, {1, {1, 2, 8}}, {2, {7, 8, 5}}, {1, {7, 8, 9}}}, -1, 2, false, {},
         {{0, 3}, {1, 3}}, {{0, 1}, {2, 3}}, {}},
        {"lone singleton gets no affinity", 2, {{2, {1, 2, 3}}, {1, {5, 5, 5}}}, -1, 2, false, {0, -1},
         {{0, 2}, {-1, 1}}, {}, {}},
        {"overlapping singletons co-locate without groups", 2,
         {{1, {1, 2, 3}}, {1, {1, 2, 4}}, {1, {1, 2, 5}}, {1, {1, 2, 6}}}, -1, 2, false, {}, {{0, 2}, {1, 2}}, {}, {}},
        {"shared prefix below threshold does not co-locate", 2,
         {{2, {1, 2, 3}}, {2, {1, 2, 4}}, {2, {7, 8, 5}}, {2, {7, 8, 6}}}, -1, 3, false, {}, {{0, 4}, {1, 4}}, {},
         {{0, 1}}},
        {"single replica places everything", 1, {{4, {1, 2, 3}}, {4, {9, 9, 9}}}, -1, 2, false, {0, 0}, {{0, 8}}, {},
         {}},
        {"balance by requests co-locates a short unit with the long one", 2,
         {{2, {1, 2, 3, 4}}, {2, {5}}, {2, {6}}}, -1, 0, false, {}, {}, {{0, 2}}, {}},
        {"balance by tokens keeps the long unit alone", 2, {{2, {1, 2, 3, 4}}, {2, {5}}, {2, {6}}}, -1, 0, true, {},
         {}, {{1, 2}}, {{0, 1}}},
        {"balance by tokens discounts a shared prefix", 2,
         {{2, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}, {2, {1, 2, 3, 4, 5, 6, 7, 8, 9, 11}},
          {2, {1, 2, 3, 4, 5, 6, 7, 8, 9, 12}}},
         -1, 9, true, {}, {}, {{0, 1}, {1, 2}}, {}},
        {"overflow guard balances beyond the cap", 2, {{8, {1, 2, 3}}}, 2, 0, false, {}, {{0, 4}, {1, 4}}, {}, {}},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        std::vector<WindowEntry> entries;
        std::vector<size_t> first_index;
        for (const Unit& u : c.units) {
            first_index.push_back(entries.size());
            for (int i = 0; i < u.n; ++i) entries.push_back({u.hashes, -1});
        }
        const std::vector<int64_t> running(size_t(c.replicas), 0);
        assign_window(entries, running, c.k, c.min_colocate, c.by_tokens);
        // Identical groups are never broken when unlimited.
        if (c.k == kUnlimitedPerReplica) {
            for (size_t u = 0; u < c.units.size(); ++u)
                for (int i = 0; i < c.units[u].n; ++i)
                    CHECK(entries[first_index[u] + size_t(i)].assigned == entries[first_index[u]].assigned);
        }
        for (size_t u = 0; u < c.first.size(); ++u) CHECK(entries[first_index[u]].assigned == c.first[u]);
        if (!c.counts.empty()) {
            std::map<int, int> got;
            for (const auto& e : entries) ++got[e.assigned];
            CHECK(got == c.counts);
        }
        for (auto [a, b] : c.same) CHECK(entries[first_index[size_t(a)]].assigned == entries[first_index[size_t(b)]].assigned);
        for (auto [a, b] : c.differ) CHECK(entries[first_index[size_t(a)]].assigned != entries[first_index[size_t(b)]].assigned);
    }
}

TEST_CASE("window assignment: running requests break load ties (the generator's in-flight counts)") {
    std::vector<WindowEntry> entries(3, WindowEntry{{1, 2}, -1});
    const std::vector<int64_t> running{5, 1, 3};
    assign_window(entries, running, kUnlimitedPerReplica, 0, false);
    for (const auto& e : entries) CHECK(e.assigned == 1);
    std::vector<WindowEntry> none;
    assign_window(none, running, kUnlimitedPerReplica, 0, false);  // nothing to do, no crash
    std::vector<WindowEntry> one(2, WindowEntry{{1}, -1});
    assign_window(one, std::vector<int64_t>{}, kUnlimitedPerReplica, 0, false);  // no replicas
    CHECK(one[0].assigned == -1);
}
