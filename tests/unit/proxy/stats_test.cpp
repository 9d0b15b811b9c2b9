// WorkerStats: the per-worker cache of inference_objective_* series; the
// added-latency histograms and their merge at scrape.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "proxy/histogram_merge.hpp"
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

// The added-latency histograms: per-worker FixedHistograms merged at scrape
// (histogram_merge.hpp) into cumulative Prometheus buckets.
TEST_CASE("added latency: bucket of an observation (le is inclusive, +Inf past 1 s)") {
    struct Case {
        double seconds;
        double le;  // the smallest bucket bound that counts it
    };
    const double inf = std::numeric_limits<double>::infinity();
    const Case cases[] = {
        {0, 0.000025},        {0.000010, 0.000025}, {0.000025, 0.000025}, {0.000026, 0.00005},
        {0.0003, 0.0005},     {0.001, 0.001},       {0.0011, 0.002},      {0.3, 1.0},
        {1.0, 1.0},           {1.5, inf},           {-1, 0.000025},  // never from steady_clock; still counted
    };
    for (const Case& c : cases) {
        CAPTURE(c.seconds);
        AddedLatencyHistogram h;
        h.observe(c.seconds);
        MergedHistogram<AddedLatencyHistogram> m;
        m.add(h);
        const prometheus::ClientMetric cm = m.metric();
        REQUIRE(cm.histogram.bucket.size() == kAddedLatencyBounds.size() + 1);
        for (const auto& b : cm.histogram.bucket) {
            CAPTURE(b.upper_bound);
            CHECK(b.cumulative_count == (b.upper_bound >= c.le ? 1u : 0u));
        }
        CHECK(cm.histogram.sample_count == 1);
        CHECK(cm.histogram.sample_sum == doctest::Approx(std::max(c.seconds, 0.0)).epsilon(1e-6));
    }
}

TEST_CASE("added latency: workers' histograms merge into cumulative buckets ending at the count") {
    // Three workers' observations; the merge is their union.
    const std::vector<std::vector<double>> workers = {
        {0.00002, 0.0004, 0.0004, 0.003},
        {},
        {0.00007, 0.2, 2.0},
    };
    std::vector<std::unique_ptr<AddedLatencyHistogram>> hs;
    AddedLatencyHistogram all;  // every observation in one histogram
    double total = 0;
    size_t n = 0;
    for (const auto& obs : workers) {
        hs.push_back(std::make_unique<AddedLatencyHistogram>());
        for (double v : obs) {
            hs.back()->observe(v);
            all.observe(v);
            total += v;
            ++n;
        }
    }
    MergedHistogram<AddedLatencyHistogram> merged, single;
    for (const auto& h : hs) merged.add(*h);
    single.add(all);
    const prometheus::ClientMetric m = merged.metric(), s = single.metric();
    CHECK(m.histogram.sample_count == n);
    CHECK(m.histogram.sample_sum == doctest::Approx(total).epsilon(1e-6));
    REQUIRE(m.histogram.bucket.size() == s.histogram.bucket.size());
    uint64_t prev = 0;
    for (size_t i = 0; i < m.histogram.bucket.size(); ++i) {
        CAPTURE(i);
        CHECK(m.histogram.bucket[i].upper_bound == s.histogram.bucket[i].upper_bound);
        CHECK(m.histogram.bucket[i].cumulative_count == s.histogram.bucket[i].cumulative_count);
        CHECK(m.histogram.bucket[i].cumulative_count >= prev);
        prev = m.histogram.bucket[i].cumulative_count;
    }
    CHECK(std::isinf(m.histogram.bucket.back().upper_bound));
    CHECK(m.histogram.bucket.back().cumulative_count == n);
    // Spot checks against the bounds: le=25µs holds 20µs, le=500µs four.
    CHECK(m.histogram.bucket[0].cumulative_count == 1);
    CHECK(m.histogram.bucket[4].upper_bound == 0.0005);
    CHECK(m.histogram.bucket[4].cumulative_count == 4);
}
