// WorkerStats: the per-worker cache of inference_objective_* series.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "proxy/model_labels.hpp"
#include "proxy/stats.hpp"

using namespace infergate::proxy;

TEST_CASE("gie series: every configured priority is cached; only a series' first request is slow") {
    const ModelLabels labels({"llama", "mistral"}, {0, -1, 10, -1});
    const uint32_t llama = labels.index("llama"), mistral = labels.index("mistral");
    WorkerStats st;
    struct Case {
        const char* what;
        uint64_t generation;
        uint32_t model, target;
        int priority;
        bool slow;  // expected to take the mutex
    };
    const Case cases[] = {
        {"first of (llama, llama, 0)", 1, llama, llama, 0, true},
        {"again", 1, llama, llama, 0, false},
        {"first of priority -1", 1, llama, llama, -1, true},
        {"priority -1 again", 1, llama, llama, -1, false},
        {"first of priority 10", 1, llama, llama, 10, true},
        {"priority 10 again", 1, llama, llama, 10, false},
        {"another target", 1, llama, mistral, 10, true},
        {"another target again", 1, llama, mistral, 10, false},
        {"priority 0 still cached", 1, llama, llama, 0, false},
        {"a priority outside the config: never cached", 1, llama, llama, 3, true},
        {"outside again", 1, llama, llama, 3, true},
        {"a new snapshot starts a new cache", 2, llama, llama, -1, true},
        {"new snapshot, cached", 2, llama, llama, -1, false},
        {"an older snapshot's request: slow", 1, llama, llama, -1, true},
        {"the new snapshot's cache is kept", 2, llama, llama, -1, false},
    };
    std::set<std::tuple<std::string, std::string, int>> keys;
    for (const Case& c : cases) {
        CAPTURE(c.what);
        const uint64_t before = st.gie_slow_lookups();
        GieSeries& s = st.gie(labels, c.generation, c.model, c.target, c.priority);
        CHECK(st.gie_slow_lookups() - before == (c.slow ? 1u : 0u));
        keys.insert({labels.name(c.model), labels.name(c.target), c.priority});
        // The series is the one listed for these labels, whichever path found it.
        const GieSeries* listed = nullptr;
        for (const auto& [k, v] : st.gie_series())
            if (k.model == labels.name(c.model) && k.target == labels.name(c.target) && k.priority == c.priority)
                listed = v;
        CHECK(listed == &s);
    }
    CHECK(st.gie_series().size() == keys.size());
}
