// Open-loop arrivals (seeded Poisson over stages) and the class draw.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "bench/loadgen/arrivals.hpp"

using namespace infergate::loadgen;

TEST_CASE("poisson: mean inter-arrival is 1/qps within tolerance") {
    const struct {
        double qps;
    } cases[] = {{0.5}, {3}, {100}, {5000}};
    for (const auto& c : cases) {
        CAPTURE(c.qps);
        const double seconds = 20000.0 / c.qps;  // about 20000 arrivals
        PoissonArrivals a({{c.qps, seconds}}, 42);
        double prev = 0, sum = 0, sum_sq = 0;
        size_t n = 0;
        while (auto x = a.next()) {
            const double gap = x->t - prev;
            CHECK(gap >= 0);
            sum += gap;
            sum_sq += gap * gap;
            prev = x->t;
            ++n;
        }
        // 20000 +- 5 sigma (sigma = sqrt(20000) ~ 141).
        CHECK(double(n) == doctest::Approx(20000).epsilon(0.04));
        const double mean = sum / double(n);
        CHECK(mean == doctest::Approx(1.0 / c.qps).epsilon(0.04));
        // Exponential: standard deviation equals the mean.
        const double sd = std::sqrt(sum_sq / double(n) - mean * mean);
        CHECK(sd == doctest::Approx(mean).epsilon(0.05));
    }
}

TEST_CASE("poisson: stages are respected at their boundaries") {
    PoissonArrivals a({{50, 10}, {0, 5}, {200, 10}}, 7);
    CHECK(a.stage_start(0) == 0);
    CHECK(a.stage_start(1) == 10);
    CHECK(a.stage_start(2) == 15);
    CHECK(a.end() == 25);
    std::vector<size_t> counts(3, 0);
    double prev = -1;
    while (auto x = a.next()) {
        CHECK(x->t > prev);  // increasing
        prev = x->t;
        REQUIRE(x->stage < 3);
        CHECK(x->t >= a.stage_start(x->stage));
        CHECK(x->t < a.stage_start(x->stage + 1));
        CHECK(a.stage_at(x->t) == x->stage);
        ++counts[x->stage];
    }
    CHECK(double(counts[0]) == doctest::Approx(500).epsilon(0.25));
    CHECK(counts[1] == 0);  // a 0-qps stage is a pause
    CHECK(double(counts[2]) == doctest::Approx(2000).epsilon(0.12));
    CHECK_FALSE(a.next());  // stays ended
    CHECK(a.stage_at(1e9) == 2);
}

TEST_CASE("poisson: the same seed gives the same arrivals, another seed others") {
    PoissonArrivals a({{10, 5}}, 1), b({{10, 5}}, 1), c({{10, 5}}, 2);
    bool differs = false;
    for (int i = 0; i < 20; ++i) {
        auto x = a.next(), y = b.next(), z = c.next();
        REQUIRE(x);
        REQUIRE(y);
        CHECK(x->t == y->t);
        if (z && z->t != x->t) differs = true;
    }
    CHECK(differs);
}

TEST_CASE("class picker: frequencies follow the weights") {
    const std::vector<ClassWeight> mix{{"a", 1}, {"b", 3}, {"c", 0.5}};
    ClassPicker p(mix, 9);
    std::vector<size_t> n(3, 0);
    for (int i = 0; i < 45000; ++i) ++n.at(p.next());
    CHECK(double(n[0]) == doctest::Approx(10000).epsilon(0.05));
    CHECK(double(n[1]) == doctest::Approx(30000).epsilon(0.03));
    CHECK(double(n[2]) == doctest::Approx(5000).epsilon(0.08));
    ClassPicker one(std::vector<ClassWeight>{{"default", 1}}, 9);
    CHECK(one.next() == 0);
}
