// no-hit-lru-scorer: the reference's ranking of cold requests, through the
// scheduler with its default approx-prefix-cache-producer.
#include <doctest/doctest.h>

#include "config/loader.hpp"
#include "helpers.hpp"
#include "picker/builtin_plugins.hpp"
#include "picker/scheduler.hpp"
#include "picker/scheduler_impl.hpp"

using namespace infergate;
using namespace infergate::picker;

namespace {

BuildResult build(const std::string& plugins) {
    const auto loaded = picker_test::load_pool_config("    scheduler:\n      plugins:\n" + plugins);
    for (const auto& e : loaded.errors) FAIL_CHECK(e.to_string());
    REQUIRE(loaded.ok());
    return build_scheduler(loaded.config->pools.at(0).scheduler);
}

const NoHitLruScorer& scorer_of(const Scheduler& s) {
    REQUIRE(!s.scorers().empty());
    REQUIRE(s.scorers()[0].scorer->type() == NoHitLruScorer::type_name);
    return static_cast<const NoHitLruScorer&>(*s.scorers()[0].scorer);
}

struct Fleet {
    std::vector<std::shared_ptr<EndpointState>> owned;
    explicit Fleet(size_t n) {
        for (size_t i = 0; i < n; ++i) {
            owned.push_back(picker_test::endpoint("10.0.0." + std::to_string(i + 1), 8000));
            owned.back()->publish(EngineMetrics{}, Clock::now());
        }
    }
    size_t pick(const Scheduler& s, const std::string& prompt, PickScratch& scratch) {
        scratch.candidates.clear();
        for (auto& e : owned) scratch.candidates.push_back(e.get());
        SchedulingRequest req;
        req.model = "m";
        req.prompt = prompt;
        EndpointState* ep = s.run(req, scratch);
        REQUIRE(ep);
        for (size_t i = 0; i < owned.size(); ++i)
            if (owned[i].get() == ep) return i;
        return SIZE_MAX;
    }
    std::vector<double> scores() const {
        std::vector<double> out;
        for (const auto& e : owned) out.push_back(e->last_scores[0].load());
        return out;
    }
};

std::string prompt(char tag) { return std::string(600, tag); }

}  // namespace

TEST_CASE("no-hit-lru-scorer: cold requests rotate over the least recently used; warm ones are neutral") {
    const BuildResult r = build(R"(        - type: no-hit-lru-scorer
        - type: max-score-picker
)");
    for (const auto& e : r.errors) FAIL_CHECK(e.to_string());
    REQUIRE(r.scheduler);
    const Scheduler& s = *r.scheduler;
    REQUIRE(s.producers().size() == 1);  // the default producer was created for it
    CHECK(s.producers()[0]->name() == "approx-prefix-cache-producer");
    Fleet f(3);
    PickScratch scratch;
    struct Step {
        const char* what;
        char prompt;
        std::vector<double> scores;  // before the pick
        size_t chosen;
    };
    const Step steps[] = {
        {"nothing used yet: candidate order 1, 0.5, 0", 'a', {1.0, 0.5, 0.0}, 0},
        {"0 used: the never-used first, then 0", 'b', {0.0, 1.0, 0.5}, 1},
        {"0 then 1 used", 'c', {0.5, 0.0, 1.0}, 2},
        {"all used: least recent first", 'd', {1.0, 0.5, 0.0}, 0},
        {"warm (a is on 0): 0.5 for all, LRU unchanged", 'a', {0.5, 0.5, 0.5}, 0},
        {"cold again: continues from the LRU", 'e', {0.0, 1.0, 0.5}, 1},
    };
    for (const Step& st : steps) {
        CAPTURE(std::string(st.what));
        const size_t chosen = f.pick(s, prompt(st.prompt), scratch);
        const auto got = f.scores();
        for (size_t i = 0; i < 3; ++i) CHECK(got[i] == doctest::Approx(st.scores[i]));
        if (st.scores[0] != 0.5) CHECK(chosen == st.chosen);  // warm: a tie, any
    }
    const auto order = scorer_of(s).lru_order();
    CHECK(order == std::vector<uint32_t>{f.owned[2]->uid(), f.owned[0]->uid(), f.owned[1]->uid()});
}

TEST_CASE("no-hit-lru-scorer: ranks count LRU positions of endpoints that are not candidates") {
    // The reference ranks a used candidate by its position in the whole
    // LRU (getLRUPositions), filtered-out endpoints included, clamping at 0.
    struct Case {
        const char* what;
        std::vector<size_t> candidates;
        std::vector<double> scores;
    };
    const Case cases[] = {
        // n = 3: 3 never used (rank 0), 1 at position 1 (rank 2), 2 at 2 (rank 3 -> 0).
        {"without endpoint 0", {3, 1, 2}, {1.0, 0.0, 0.0}},
        // n = 2: 0 at position 0 (rank 0), 2 at 2 (rank 2 -> 0).
        {"only 0 and 2", {0, 2}, {1.0, 0.0}},
        // n = 3: 3 never used (rank 0), 0 rank 1, 2 rank 3 -> 0.
        {"3, 0 and 2", {3, 0, 2}, {1.0, 0.5, 0.0}},
    };
    for (const Case& c : cases) {
        CAPTURE(std::string(c.what));
        const BuildResult r = build(R"(        - type: no-hit-lru-scorer
        - type: max-score-picker
)");
        REQUIRE(r.scheduler);
        Fleet f(4);
        PickScratch scratch;
        for (char p : {'a', 'b', 'c'}) f.pick(*r.scheduler, prompt(p), scratch);  // LRU: 0, 1, 2
        REQUIRE(scorer_of(*r.scheduler).lru_order().size() == 3);
        Fleet g(0);
        for (const size_t i : c.candidates) g.owned.push_back(f.owned[i]);
        g.pick(*r.scheduler, prompt('z'), scratch);
        const auto got = g.scores();
        REQUIRE(got.size() == c.scores.size());
        for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(c.scores[i]));
    }
}

TEST_CASE("no-hit-lru-scorer: one candidate scores 1; lruSize bounds the list") {
    const BuildResult r = build(R"(        - type: no-hit-lru-scorer
          parameters:
            lruSize: 2
        - type: max-score-picker
)");
    REQUIRE(r.scheduler);
    CHECK(scorer_of(*r.scheduler).lru_size() == 2);
    Fleet one(1);
    PickScratch scratch;
    one.pick(*r.scheduler, prompt('a'), scratch);
    CHECK(one.scores()[0] == 1.0);
    Fleet f(3);
    for (char c : {'b', 'c', 'd'}) f.pick(*r.scheduler, prompt(c), scratch);
    CHECK(scorer_of(*r.scheduler).lru_order().size() == 2);
}

TEST_CASE("no-hit-lru-scorer: parameters") {
    struct Case {
        const char* what;
        const char* yaml;
        size_t lru_size;
        std::string error;
    };
    const Case cases[] = {
        {"defaults", "        - type: no-hit-lru-scorer\n", 1024, ""},
        {"deprecated names accepted, lruSize <= 0 means the default",
         "        - type: no-hit-lru-scorer\n          parameters:\n            prefixPluginType: prefix-cache-scorer\n"
         "            prefixPluginName: p\n            lruSize: 0\n",
         1024, ""},
        {"not an integer", "        - type: no-hit-lru-scorer\n          parameters:\n            lruSize: big\n", 0,
         "infergate.yaml:20:22: parameter 'lruSize' of plugin 'no-hit-lru-scorer' must be an integer"},
        {"a producer that is not there",
         "        - type: no-hit-lru-scorer\n          parameters:\n            prefixMatchInfoProducerName: gone\n",
         0, "infergate.yaml:17:7: scorer 'no-hit-lru-scorer' reads producer 'gone', which is not among the plugins"},
    };
    for (const Case& c : cases) {
        CAPTURE(std::string(c.what));
        const BuildResult r = build(c.yaml);
        if (c.error.empty()) {
            REQUIRE(r.scheduler);
            CHECK(scorer_of(*r.scheduler).lru_size() == c.lru_size);
        } else {
            CHECK(r.scheduler == nullptr);
            REQUIRE(r.errors.size() == 1);
            CHECK(r.errors[0].to_string() == c.error);
        }
    }
}
