// Scorers and pickers, table-driven over endpoint states.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <map>

#include "helpers.hpp"
#include "picker/builtin_plugins.hpp"

using namespace picker_test;
using namespace infergate::picker;

namespace {

struct Fleet {
    std::vector<std::shared_ptr<EndpointState>> owned;
    std::vector<EndpointState*> ptrs;

    explicit Fleet(size_t n) {
        for (size_t i = 0; i < n; ++i) {
            owned.push_back(endpoint("10.0.0." + std::to_string(i + 1), 8000));
            ptrs.push_back(owned.back().get());
        }
    }
    void metrics(size_t i, double waiting, double running, double kv) {
        owned[i]->publish(EngineMetrics{waiting, running, kv}, Clock::now());
    }
};

std::vector<double> run_scorer(const Scorer& s, Fleet& f) {
    std::vector<double> out(f.ptrs.size(), -1.0);
    s.score(SchedulingRequest{}, f.ptrs, out);
    return out;
}

void check_scores(const std::vector<double>& got, const std::vector<double>& want) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        CAPTURE(i);
        CHECK(got[i] == doctest::Approx(want[i]));
    }
}

}  // namespace

TEST_CASE("queue-scorer: (max - q) / (max - min), 1 when all equal") {
    struct Row {
        std::vector<double> waiting;
        std::vector<double> want;
    };
    const Row rows[] = {
        {{0, 5, 10}, {1, 0.5, 0}},
        {{3, 3, 3}, {1, 1, 1}},
        {{7}, {1}},
        {{2, 0, 4, 1}, {0.5, 1, 0, 0.75}},
        {{100, 101}, {1, 0}},
    };
    const QueueScorer scorer("queue-scorer");
    for (const Row& r : rows) {
        Fleet f(r.waiting.size());
        for (size_t i = 0; i < r.waiting.size(); ++i) f.metrics(i, r.waiting[i], 99, 0.9);
        check_scores(run_scorer(scorer, f), r.want);
    }
}

TEST_CASE("load-aware-scorer: 0.5 when the queue is empty, down to 0 at the threshold") {
    const LoadAwareScorer scorer("load-aware-scorer", 128);
    const std::vector<double> waiting{0, 1, 64, 128, 500};
    Fleet f(waiting.size());
    for (size_t i = 0; i < waiting.size(); ++i) f.metrics(i, waiting[i], 3, 0.5);
    check_scores(run_scorer(scorer, f), {0.5, 0.5 * (1 - 1.0 / 128), 0.25, 0, 0});
    const LoadAwareScorer small("small", 4);
    Fleet g(3);
    g.metrics(0, 0, 0, 0);
    g.metrics(1, 2, 0, 0);
    g.metrics(2, 3, 0, 0);
    check_scores(run_scorer(small, g), {0.5, 0.25, 0.125});
}

TEST_CASE("running-requests-size-scorer: (max - r) / (max - min), 1 when all equal") {
    const RunningRequestsSizeScorer scorer("running");
    Fleet f(3);
    f.metrics(0, 50, 0, 0.9);
    f.metrics(1, 0, 10, 0.9);
    f.metrics(2, 7, 4, 0.9);
    check_scores(run_scorer(scorer, f), {1, 0, 0.6});
    Fleet g(2);
    g.metrics(0, 1, 5, 0);
    g.metrics(1, 9, 5, 0);
    check_scores(run_scorer(scorer, g), {1, 1});
}

TEST_CASE("kv-cache-utilization-scorer: 1 - usage") {
    const KVCacheUtilizationScorer scorer("kv");
    Fleet f(4);
    const double usage[] = {0, 0.25, 0.9, 1};
    for (size_t i = 0; i < 4; ++i) f.metrics(i, 0, 0, usage[i]);
    check_scores(run_scorer(scorer, f), {1, 0.75, 0.1, 0});
}

TEST_CASE("active-request-scorer: idle gets 1, busy scale to maxBusyScore") {
    struct Row {
        int64_t idle_threshold;
        double max_busy;
        std::vector<int64_t> in_flight;
        std::vector<double> want;
    };
    const Row rows[] = {
        {0, 1.0, {0, 2, 4}, {1, 0.5, 0}},
        {0, 1.0, {0, 0}, {1, 1}},
        {0, 1.0, {3, 3}, {0, 0}},  // all equally busy: the reference gives 0 to all
        {1, 0.5, {0, 1, 2, 4}, {1, 1, 0.25, 0}},
        {0, 0.0, {0, 5}, {1, 0}},
        {0, 1.0, {-1, 2}, {1, 0}},  // a transiently negative count is idle
    };
    for (const Row& r : rows) {
        const ActiveRequest scorer("ar", r.idle_threshold, r.max_busy);
        Fleet f(r.in_flight.size());
        for (size_t i = 0; i < r.in_flight.size(); ++i) f.owned[i]->in_flight = r.in_flight[i];
        check_scores(run_scorer(scorer, f), r.want);
    }
}

TEST_CASE("max-score-picker: the best wins; ties are random, never a lower one") {
    const MaxScorePicker picker("max-score-picker", 1);
    Fleet f(4);
    std::minstd_rand rng(12345);
    {
        const std::array<double, 4> totals{1, 3.5, 2, 0};
        for (int i = 0; i < 100; ++i) CHECK(picker.pick(f.ptrs, totals, rng) == 1);
    }
    const std::array<double, 4> totals{1, 3, 3, 2};
    std::map<size_t, int> seen;
    for (int i = 0; i < 2000; ++i) ++seen[picker.pick(f.ptrs, totals, rng)];
    CHECK(seen.size() == 2);
    CHECK(seen[1] > 800);
    CHECK(seen[2] > 800);
    CHECK(seen.count(0) == 0);
    CHECK(seen.count(3) == 0);

    const std::array<double, 1> one{0};
    CHECK(picker.pick(std::span<EndpointState* const>(f.ptrs.data(), 1), one, rng) == 0);
}

TEST_CASE("random-picker: uniform, scores ignored") {
    const RandomPicker picker("random-picker", 1);
    Fleet f(4);
    std::minstd_rand rng(777);
    const std::array<double, 4> totals{100, 0, 0, 0};
    std::map<size_t, int> seen;
    for (int i = 0; i < 4000; ++i) ++seen[picker.pick(f.ptrs, totals, rng)];
    REQUIRE(seen.size() == 4);
    for (const auto& [idx, n] : seen) {
        CAPTURE(idx);
        CHECK(n > 800);
        CHECK(n < 1200);
    }
}

TEST_CASE("weighted-random-picker: proportional to score, never a zero score") {
    const WeightedRandomPicker picker("weighted-random-picker", 1);
    Fleet f(4);
    std::minstd_rand rng(4242);
    const std::array<double, 4> totals{1, 3, 0, -1};
    std::map<size_t, int> seen;
    const int n = 8000;
    for (int i = 0; i < n; ++i) ++seen[picker.pick(f.ptrs, totals, rng)];
    CHECK(seen.count(2) == 0);
    CHECK(seen.count(3) == 0);
    // Expected 2000 and 6000; a fixed seed keeps this deterministic, the
    // bands are about 5 standard deviations wide.
    CHECK(seen[0] > 1800);
    CHECK(seen[0] < 2200);
    CHECK(seen[1] > 5800);
    CHECK(seen[1] < 6200);

    // No positive score at all: uniform, as the reference's fallback.
    const std::array<double, 4> zeros{0, 0, 0, 0};
    std::map<size_t, int> uniform;
    for (int i = 0; i < 4000; ++i) ++uniform[picker.pick(f.ptrs, zeros, rng)];
    REQUIRE(uniform.size() == 4);
    for (const auto& [idx, c] : uniform) {
        CAPTURE(idx);
        CHECK(c > 800);
        CHECK(c < 1200);
    }
}

TEST_CASE("endpoint state: id, freshness, scrape failure, last_score") {
    CHECK(endpoint("10.1.2.3", 8000)->id() == "10.1.2.3:8000");
    CHECK(endpoint("::1", 9000)->id() == "[::1]:9000");
    CHECK(endpoint("vllm-0.svc", 80)->id() == "vllm-0.svc:80");

    auto ep = endpoint("10.0.0.1", 8000);
    const auto t0 = Clock::now();
    using std::chrono::milliseconds;
    CHECK(std::isnan(ep->last_score.load()));
    CHECK_FALSE(ep->fresh(t0, milliseconds(200)));  // never scraped
    ep->down = true;
    ep->publish(EngineMetrics{1, 2, 0.5}, t0);
    CHECK_FALSE(ep->down.load());  // a good scrape clears down
    CHECK(ep->fresh(t0 + milliseconds(200), milliseconds(200)));
    CHECK_FALSE(ep->fresh(t0 + milliseconds(201), milliseconds(200)));
    CHECK(ep->metrics().running == 2);
    CHECK(ep->scraped_at() == t0);
    ep->scrape_failed(t0 + milliseconds(10));
    CHECK_FALSE(ep->fresh(t0 + milliseconds(10), milliseconds(200)));
    CHECK(ep->scraped_at() == t0);  // last good scrape kept
    CHECK(ep->metrics().waiting == 1);
}
