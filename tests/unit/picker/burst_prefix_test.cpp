// burst-aware-prefix-producer: the unseen-KV accounting on EndpointState,
// KV capacity from vLLM's cache_config_info, and bursts placed one request
// at a time through a real scheduler built from YAML.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "config/loader.hpp"
#include "helpers.hpp"
#include "picker/builtin_plugins.hpp"
#include "picker/prefix_hash.hpp"
#include "picker/prom_text.hpp"
#include "picker/scheduler.hpp"
#include "picker/scheduler_impl.hpp"

using namespace infergate;
using namespace infergate::picker;

namespace {

BuildResult build_yaml(const std::string& scheduler) {
    const auto loaded = picker_test::load_pool_config("    scheduler:\n" + scheduler);
    for (const auto& e : loaded.errors) FAIL_CHECK(e.to_string());
    REQUIRE(loaded.ok());
    return build_scheduler(loaded.config->pools.at(0).scheduler);
}

// prefix-cache-scorer reading `producer`, plus queue-scorer to break ties
// the way a loaded fleet would not (all queues equal here).
std::string profile(const std::string& producer_yaml, const std::string& producer_name) {
    return producer_yaml + R"(        - type: prefix-cache-scorer
          parameters:
            prefixMatchInfoProducerName: )" +
           producer_name + R"(
        - type: queue-scorer
      schedulingProfiles:
        - name: default
          plugins:
            - pluginRef: prefix-cache-scorer
              weight: 3
            - pluginRef: queue-scorer
              weight: 2
)";
}

struct Fleet {
    std::vector<std::shared_ptr<EndpointState>> eps;
    explicit Fleet(size_t n, double capacity_tokens) {
        for (size_t i = 0; i < n; ++i) {
            eps.push_back(picker_test::endpoint("10.0.0." + std::to_string(i + 1), 8000));
            EngineMetrics m{0, 0, 0};
            m.kv_capacity_tokens = capacity_tokens;
            eps.back()->publish(m, Clock::now());
        }
    }
    // The decisions' time: fixed unless a test moves it, so that pending
    // prefill drains only when a test says so.
    Clock::time_point now = Clock::time_point{} + std::chrono::hours(1);
    // One decision over the whole fleet; returns the chosen index.
    size_t pick(const Scheduler& s, PickScratch& scratch, std::string_view prompt) {
        SchedulingRequest req;
        req.model = "m";
        req.prompt = prompt;
        req.now = now;
        scratch.candidates.clear();
        for (auto& e : eps) scratch.candidates.push_back(e.get());
        EndpointState* got = s.run(req, scratch);
        REQUIRE(got);
        for (size_t i = 0; i < eps.size(); ++i)
            if (eps[i].get() == got) return i;
        FAIL("chosen endpoint not in the fleet");
        return 0;
    }
};

// A prompt of `blocks` blocks of 64 tokens x 4 characters.
std::string prompt(size_t blocks) { return std::string(blocks * 64 * kCharsPerToken, 'p'); }

// A burst prompt: `prefix` blocks shared by the whole burst ('p'), then
// `question` blocks of its own (request k's letter).
std::string burst_prompt(size_t prefix, size_t question, size_t k) {
    return prompt(prefix) + std::string(question * 64 * kCharsPerToken, char('a' + k % 26));
}

// Lengths of the runs of equal values: {0,0,1,1,1} -> {2,3}.
std::vector<size_t> runs(const std::vector<size_t>& v) {
    std::vector<size_t> out;
    for (size_t i = 0; i < v.size(); ++i) {
        if (i == 0 || v[i] != v[i - 1]) out.push_back(0);
        ++out.back();
    }
    return out;
}

}  // namespace

TEST_CASE("endpoint: unseen KV tokens add up until the next good scrape") {
    auto ep = picker_test::endpoint("10.0.0.1", 8000);
    CHECK(ep->unseen_kv_tokens() == 0);
    ep->add_unseen_kv_tokens(100);
    ep->add_unseen_kv_tokens(50);
    ep->add_unseen_kv_tokens(0);
    ep->add_unseen_kv_tokens(-7);  // ignored
    CHECK(ep->unseen_kv_tokens() == 150);
    ep->scrape_failed(Clock::now());  // a failed scrape shows nothing new
    CHECK(ep->unseen_kv_tokens() == 150);
    ep->publish(EngineMetrics{0, 0, 0.5}, Clock::now());
    CHECK(ep->unseen_kv_tokens() == 0);
    ep->add_unseen_kv_tokens(30);
    CHECK(ep->unseen_kv_tokens() == 30);
}

TEST_CASE("endpoint: pending prefill tokens drain at the given rate from each send on") {
    auto ep = picker_test::endpoint("10.0.0.1", 8000);
    const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);
    auto at = [&](int ms) { return t0 + std::chrono::milliseconds(ms); };
    constexpr double rate = 1000;  // tokens per second: one per ms
    CHECK(ep->pending_prefill_tokens(t0, rate) == 0);
    ep->add_pending_prefill_tokens(1000, t0, rate);
    ep->add_pending_prefill_tokens(0, t0, rate);
    ep->add_pending_prefill_tokens(-7, t0, rate);  // ignored
    CHECK(ep->pending_prefill_tokens(t0, rate) == 1000);
    CHECK(ep->pending_prefill_tokens(at(100), rate) == 900);
    CHECK(ep->pending_prefill_tokens(at(-5), rate) == 1000);  // another worker's older clock: no drain
    CHECK(ep->pending_prefill_tokens(at(100), 2 * rate) == 800);
    ep->add_pending_prefill_tokens(50, at(100), rate);  // 900 left + 50
    CHECK(ep->pending_prefill_tokens(at(100), rate) == 950);
    // A scrape neither resets nor fills it.
    ep->publish(EngineMetrics{3, 1, 0.5}, Clock::now());
    CHECK(ep->pending_prefill_tokens(at(600), rate) == 450);
    // An add with an older clock than the last one keeps the newer time.
    ep->add_pending_prefill_tokens(10, at(50), rate);
    CHECK(ep->pending_prefill_tokens(at(600), rate) == 460);
    CHECK(ep->pending_prefill_tokens(at(1060), rate) == 0);
    CHECK(ep->pending_prefill_tokens(at(100000), rate) == 0);
    // Saturates at 2^24 - 1 tokens instead of wrapping.
    ep->add_pending_prefill_tokens(int64_t{1} << 25, at(100000), rate);
    CHECK(ep->pending_prefill_tokens(at(100000), rate) == (int64_t{1} << 24) - 1);
}

TEST_CASE("endpoint: concurrent adds are never lost") {
    auto ep = picker_test::endpoint("10.0.0.1", 8000);
    ep->publish(EngineMetrics{0, 0, 0}, Clock::now());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 20000; ++i) ep->add_unseen_kv_tokens(3);
        });
    for (auto& t : threads) t.join();
    CHECK(ep->unseen_kv_tokens() == 4 * 20000 * 3);
}

TEST_CASE("endpoint: concurrent pending prefill adds are never lost") {
    auto ep = picker_test::endpoint("10.0.0.1", 8000);
    const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 20000; ++i) ep->add_pending_prefill_tokens(3, t0, 1000);
        });
    for (auto& t : threads) t.join();
    CHECK(ep->pending_prefill_tokens(t0, 1000) == 4 * 20000 * 3);
}

TEST_CASE("prom: KV capacity from vllm:cache_config_info") {
    struct Row {
        const char* text;
        double want;
    };
    const Row rows[] = {
        {"vllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"26300\"} 1.0\n", 16.0 * 26300},
        {"vllm:cache_config_info{block_size=\"32\",cache_dtype=\"auto\",num_gpu_blocks=\"10\",x=\"y\"} 1\n", 320},
        {"vllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"None\"} 1.0\n", 0},
        {"vllm:cache_config_info{num_gpu_blocks=\"100\"} 1.0\n", 0},
        {"vllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"0\"} 1.0\n", 0},
        {"vllm:num_requests_running 3\n", 0},
    };
    for (const Row& r : rows) {
        CAPTURE(r.text);
        CHECK(extract_vllm_kv_capacity(parse_prometheus_text(r.text)) == r.want);
    }
    const auto full = extract_engine_metrics(
        parse_prometheus_text("vllm:num_requests_waiting 1\nvllm:num_requests_running 2\nvllm:kv_cache_usage_perc "
                              "0.5\nvllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"4\"} 1\n"),
        config::Engine::vllm);
    REQUIRE(full);
    CHECK(full->kv_capacity_tokens == 64);
}

TEST_CASE("burst-aware: a burst co-locates up to the endpoint's room, then spills to the next best") {
    // 8 blocks = 512 prompt tokens; 256 expected output tokens; room 2000.
    const auto r = build_yaml(profile(R"(      plugins:
        - type: burst-aware-prefix-producer
          parameters:
            kvCacheUtilThreshold: 1.0
            outputTokensEstimate: 256
)",
                                      "burst-aware-prefix-producer"));
    for (const auto& e : r.errors) FAIL_CHECK(e.to_string());
    REQUIRE(r.scheduler);
    Fleet fleet(3, 2000);
    PickScratch scratch;
    std::vector<size_t> chosen;
    const std::string p = prompt(8);
    for (int i = 0; i < 10; ++i) chosen.push_back(fleet.pick(*r.scheduler, scratch, p));
    // The first request adds 512 + 256 tokens where it lands, each one
    // co-located with it 256 more: 768 + 4 x 256 = 1792 fits in 2000, a
    // sixth would not. So 5 there, then the next best takes the next 5
    // (it holds the prefix from the first spilled request on).
    CHECK(runs(chosen) == std::vector<size_t>{5, 5});
    CHECK(chosen[0] != chosen[5]);
    CHECK(fleet.eps[chosen[0]]->unseen_kv_tokens() == 1792);
    CHECK(fleet.eps[chosen[5]]->unseen_kv_tokens() == 1792);
    // Both are full now: the 11th goes to the third endpoint, the only one
    // with room, though it holds nothing of the prefix.
    const size_t eleventh = fleet.pick(*r.scheduler, scratch, p);
    CHECK(eleventh != chosen[0]);
    CHECK(eleventh != chosen[5]);
    CHECK(fleet.eps[chosen[0]]->last_score.load() == -1.0);
    // A new scrape shows the burst in the usage and starts a new count.
    EngineMetrics m{0, 0, 0.1};
    m.kv_capacity_tokens = 2000;
    fleet.eps[chosen[0]]->publish(m, Clock::now());
    CHECK(fleet.eps[chosen[0]]->unseen_kv_tokens() == 0);
    // 2000 x 0.9 = 1800 of room again: it ties with the third endpoint
    // (both hold the prefix and have room); the second is still full.
    const size_t next = fleet.pick(*r.scheduler, scratch, p);
    CHECK((next == chosen[0] || next == eleventh));
    CHECK(fleet.eps[chosen[5]]->last_score.load() == -1.0);
    CHECK(fleet.eps[chosen[0]]->last_score.load() > 0);
}

TEST_CASE("burst-aware: the compute check spreads a burst once infergate has more prefill pending than the threshold") {
    // Prompts of 8 shared + 2 own blocks of 64 tokens: 640 tokens to
    // prefill where the prefix is new, 128 where it is held. KV room is
    // never short here (capacity 1e9) unless a row says so.
    struct Row {
        std::string name;
        std::string params;  // the producer's parameters
        size_t fleet;
        double capacity;
        std::vector<double> waiting;  // scraped before the burst, per endpoint (empty: 0)
        size_t question_blocks;       // 0: identical prompts
        int gap_ms;                   // time between two requests
        size_t requests;
        std::vector<size_t> want;  // requests per endpoint, most first; or
        std::vector<size_t> want_runs;  // runs of equal choices, in order
    };
    const Row rows[] = {
        // The first lands on A: 640 queued > 512. The next would start
        // after 640 + 128 there, after 640 on an endpoint without the
        // prefix: A is demoted and the burst spills, one per endpoint,
        // then round the holders (each one just chosen starts 128 later).
        {"burst over the threshold spreads", "            maxQueuedPrefillTokens: 512\n", 4, 1e9, {}, 2, 0, 8,
         {2, 2, 2, 2}, {}},
        // The default threshold (8192, one vLLM step) is far above this
        // burst's 640 + 7 x 128: the whole burst stays with the prefix.
        {"burst under the default threshold co-locates", "", 4, 1e9, {}, 2, 0, 8, {8}, {}},
        {"-1 turns the check off", "            maxQueuedPrefillTokens: -1\n", 4, 1e9, {}, 2, 0, 8, {8}, {}},
        // Steady load: 50 ms between requests, enough for the default
        // 32,000 tokens/s to drain a request's 640 tokens: the holder never
        // has more than the threshold pending and keeps the prefix.
        {"steady load keeps affinity (pending prefill drains)", "            maxQueuedPrefillTokens: 512\n", 4, 1e9, {},
         2, 50, 8, {8}, {}},
        // The scraped queue counts: B shows one request waiting, so it
        // would start a new one after 2 x 640; A keeps the burst until its
        // own estimate, 640 + k x 128, passes that (the 7th request).
        {"a scraped queue elsewhere holds the burst back", "            maxQueuedPrefillTokens: 512\n", 2, 1e9, {0, 1},
         2, 0, 7, {}, {6, 1}},
        // Identical prompts cost nothing to prefill where the prompt is
        // held, so the compute check keeps them together even at 0; the
        // KV room check still spills them (768 + 4 x 256 fits in 2000).
        {"KV room still spills identical prompts", "            maxQueuedPrefillTokens: 0\n            "
                                                   "kvCacheUtilThreshold: 1.0\n",
         3, 2000, {}, 0, 0, 10, {}, {5, 5}},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        const auto r = build_yaml(profile("      plugins:\n        - type: burst-aware-prefix-producer\n" +
                                              (row.params.empty() ? "" : "          parameters:\n" + row.params),
                                          "burst-aware-prefix-producer"));
        for (const auto& e : r.errors) FAIL_CHECK(e.to_string());
        REQUIRE(r.scheduler);
        Fleet fleet(row.fleet, row.capacity);
        for (size_t i = 0; i < row.fleet; ++i) {
            EngineMetrics m{row.waiting.empty() ? 0 : row.waiting[i], 0, 0};
            m.kv_capacity_tokens = row.capacity;
            fleet.eps[i]->publish(m, Clock::now());
        }
        PickScratch scratch;
        std::vector<size_t> chosen;
        for (size_t k = 0; k < row.requests; ++k) {
            chosen.push_back(fleet.pick(*r.scheduler, scratch, burst_prompt(8, row.question_blocks, k)));
            fleet.now += std::chrono::milliseconds(row.gap_ms);
        }
        if (!row.want_runs.empty()) CHECK(runs(chosen) == row.want_runs);
        if (!row.want.empty()) {
            std::vector<size_t> per(row.fleet, 0);
            for (size_t c : chosen) ++per[c];
            std::sort(per.begin(), per.end(), std::greater<>());
            per.erase(std::find(per.begin(), per.end(), size_t{0}), per.end());
            CHECK(per == row.want);
        }
    }
}

TEST_CASE("burst-aware: pending prefill is what the chosen endpoint must compute, drained by time") {
    const auto r = build_yaml(profile(R"(      plugins:
        - type: burst-aware-prefix-producer
          parameters:
            maxQueuedPrefillTokens: 512
)",
                                      "burst-aware-prefix-producer"));
    REQUIRE(r.scheduler);
    Fleet fleet(4, 1e9);
    PickScratch scratch;
    std::vector<size_t> chosen;
    for (size_t k = 0; k < 8; ++k) chosen.push_back(fleet.pick(*r.scheduler, scratch, burst_prompt(8, 2, k)));
    // Each endpoint: one request with the whole prompt (640), one with
    // only its question (128); KV adds 256 of output estimate to each.
    for (auto& ep : fleet.eps) {
        CHECK(ep->pending_prefill_tokens(fleet.now, 32000) == 768);
        CHECK(ep->unseen_kv_tokens() == 768 + 2 * 256);
    }
    // All start a ninth after 768 + 128: it goes anywhere; a tenth would
    // start 128 later where the ninth went: that one is demoted, its
    // total -1 on /debug/endpoints.
    const size_t ninth = fleet.pick(*r.scheduler, scratch, burst_prompt(8, 2, 8));
    const size_t tenth = fleet.pick(*r.scheduler, scratch, burst_prompt(8, 2, 9));
    CHECK(tenth != ninth);
    CHECK(fleet.eps[ninth]->last_score.load() == -1.0);
    // A scrape does not clear what is pending: still demoted.
    for (auto& ep : fleet.eps) {
        EngineMetrics m{0, 0, 0};
        m.kv_capacity_tokens = 1e9;
        ep->publish(m, Clock::now());
    }
    (void)fleet.pick(*r.scheduler, scratch, burst_prompt(8, 2, 10));
    CHECK(fleet.eps[ninth]->last_score.load() == -1.0);
    // Time does: 10 ms at 32,000 tokens/s drain 320 of the ninth's 896,
    // still over 512; 20 ms drain 640, and nobody is demoted.
    fleet.now += std::chrono::milliseconds(10);
    CHECK(fleet.eps[ninth]->pending_prefill_tokens(fleet.now, 32000) == 896 - 320);
    (void)fleet.pick(*r.scheduler, scratch, burst_prompt(8, 2, 11));
    CHECK(fleet.eps[ninth]->last_score.load() == -1.0);
    fleet.now += std::chrono::milliseconds(10);
    (void)fleet.pick(*r.scheduler, scratch, burst_prompt(8, 2, 12));
    for (auto& ep : fleet.eps) CHECK(ep->last_score.load() > 0);
}

TEST_CASE("burst-aware: a replica over the threshold by its own scrape keeps its prefix (steady load, not a burst)") {
    const auto r = build_yaml(profile(R"(      plugins:
        - type: burst-aware-prefix-producer
          parameters:
            kvCacheUtilThreshold: 0.8
            outputTokensEstimate: 256
)",
                                      "burst-aware-prefix-producer"));
    REQUIRE(r.scheduler);
    Fleet fleet(3, 2000);
    PickScratch scratch;
    const std::string p = prompt(8);
    const size_t first = fleet.pick(*r.scheduler, scratch, p);
    // Every replica now scrapes at 90 % (over 0.8): the one holding the
    // prefix must still win on it, not be hidden as "full".
    for (auto& ep : fleet.eps) {
        EngineMetrics m{0, 0, 0.9};
        m.kv_capacity_tokens = 2000;
        ep->publish(m, Clock::now());
    }
    for (int i = 0; i < 3; ++i) CHECK(fleet.pick(*r.scheduler, scratch, p) == first);
    CHECK(fleet.eps[first]->last_score.load() > 0);
}

TEST_CASE("burst-aware: the plain approx producer puts the whole burst on one endpoint") {
    const auto r = build_yaml(profile("      plugins:\n        - type: approx-prefix-cache-producer\n",
                                      "approx-prefix-cache-producer"));
    REQUIRE(r.scheduler);
    Fleet fleet(3, 2000);
    PickScratch scratch;
    std::vector<size_t> chosen;
    const std::string p = prompt(8);
    for (int i = 0; i < 11; ++i) chosen.push_back(fleet.pick(*r.scheduler, scratch, p));
    CHECK(runs(chosen) == std::vector<size_t>{11});
}

TEST_CASE("burst-aware: unknown capacity turns the room check off; kvCapacityTokens supplies one") {
    const std::string p = prompt(8);
    {
        const auto r = build_yaml(profile("      plugins:\n        - type: burst-aware-prefix-producer\n",
                                          "burst-aware-prefix-producer"));
        REQUIRE(r.scheduler);
        Fleet fleet(3, 0);
        PickScratch scratch;
        std::vector<size_t> chosen;
        for (int i = 0; i < 11; ++i) chosen.push_back(fleet.pick(*r.scheduler, scratch, p));
        CHECK(runs(chosen) == std::vector<size_t>{11});
    }
    {
        const auto r = build_yaml(profile(R"(      plugins:
        - type: burst-aware-prefix-producer
          parameters:
            kvCapacityTokens: 1000
            outputTokensEstimate: 0
            kvCacheUtilThreshold: 1
)",
                                          "burst-aware-prefix-producer"));
        REQUIRE(r.scheduler);
        Fleet fleet(3, 0);
        PickScratch scratch;
        std::vector<size_t> chosen;
        // 512 tokens for the first; co-located ones add nothing (no output
        // estimate), so the endpoint keeps the whole burst: 512 <= 1000.
        for (int i = 0; i < 6; ++i) chosen.push_back(fleet.pick(*r.scheduler, scratch, p));
        CHECK(runs(chosen) == std::vector<size_t>{6});
        // A different prompt of 8 blocks no longer fits there (512 + 512 > 1000).
        const std::string q(8 * 64 * kCharsPerToken, 'q');
        CHECK(fleet.pick(*r.scheduler, scratch, q) != chosen[0]);
    }
}

TEST_CASE("burst-aware: an empty prompt and a scorer naming it without listing it") {
    // prefix-cache-scorer naming the producer type creates it with defaults.
    const auto r = build_yaml(R"(      plugins:
        - type: prefix-cache-scorer
          parameters:
            prefixMatchInfoProducerName: burst-aware-prefix-producer
)");
    for (const auto& e : r.errors) FAIL_CHECK(e.to_string());
    REQUIRE(r.scheduler);
    REQUIRE(r.scheduler->producers().size() == 1);
    CHECK(r.scheduler->producers()[0]->type() == "burst-aware-prefix-producer");
    Fleet fleet(2, 2000);
    PickScratch scratch;
    (void)fleet.pick(*r.scheduler, scratch, "");
    CHECK(scratch.prefix[0].total_blocks == 0);
}

TEST_CASE("burst-aware: bad parameters fail at load with line:col") {
    struct Row {
        std::string params;
        std::string want;
    };
    const Row rows[] = {
        {"            kvCacheUtilThreshold: 0\n",
         "infergate.yaml:20:35: parameter 'kvCacheUtilThreshold' of plugin 'burst-aware-prefix-producer' must be "
         "between 0.01 and 1, got 0"},
        {"            outputTokensEstimate: -1\n",
         "infergate.yaml:20:35: parameter 'outputTokensEstimate' of plugin 'burst-aware-prefix-producer' must be "
         "between 0 and 2147483647, got -1"},
        {"            maxQueuedPrefillTokens: -2\n",
         "infergate.yaml:20:37: parameter 'maxQueuedPrefillTokens' of plugin 'burst-aware-prefix-producer' must be "
         "between -1 and 10000000, got -2"},
        {"            prefillTokensPerSecond: 0\n",
         "infergate.yaml:20:37: parameter 'prefillTokensPerSecond' of plugin 'burst-aware-prefix-producer' must be "
         "between 1 and 1000000000, got 0"},
        {"            kvCapacityToken: 5\n",
         "infergate.yaml:20:13: unknown parameter 'kvCapacityToken' for plugin 'burst-aware-prefix-producer' (type "
         "'burst-aware-prefix-producer') (did you mean 'kvCapacityTokens'?)"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.params);
        const auto r = build_yaml("      plugins:\n        - type: burst-aware-prefix-producer\n          parameters:\n" +
                                  row.params);
        CHECK_FALSE(r.scheduler);
        std::vector<std::string> got;
        for (const auto& e : r.errors) got.push_back(e.to_string());
        CHECK(got.size() == 1);
        for (const auto& e : got) CHECK(e == row.want);
    }
}
