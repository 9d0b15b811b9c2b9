// Approximate prefix caching: hashing, the index, approx-prefix-cache-producer
// and prefix-cache-scorer, table-driven, through build_scheduler and real
// YAML where parameters are involved.
#include <doctest/doctest.h>

#include <set>

#include "config/loader.hpp"
#include "helpers.hpp"
#include "picker/builtin_plugins.hpp"
#include "picker/index_backlog.hpp"
#include "picker/prefix_hash.hpp"
#include "picker/prefix_index.hpp"
#include "picker/registry.hpp"
#include "picker/scheduler.hpp"
#include "picker/scheduler_impl.hpp"

using namespace picker_test;
using namespace infergate;
using namespace infergate::picker;

namespace {

// The default effective block: 64 tokens (the reference's minimum) of 4 characters.
constexpr size_t kBlock = 64 * kCharsPerToken;

// `blocks` full blocks of text, block i filled with `tag` + i, so that
// prompts built with the same tag share their first blocks.
std::string text(size_t blocks, char tag, size_t extra = 0) {
    std::string s;
    for (size_t i = 0; i < blocks; ++i) s.append(kBlock, char(tag + i % 20));
    s.append(extra, '~');
    return s;
}

std::vector<uint64_t> hashes(std::string_view prompt, std::string_view model = "m", std::string_view salt = "",
                             size_t max_blocks = SIZE_MAX) {
    std::vector<uint64_t> out;
    prefix_block_hashes(prompt, prefix_seed(model, salt), kBlock, max_blocks, out);
    return out;
}

size_t common_prefix(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
    size_t k = 0;
    while (k < a.size() && k < b.size() && a[k] == b[k]) ++k;
    return k;
}

config::LoadResult load(const std::string& pool_tail, const std::string& name = "infergate.yaml") {
    auto loaded = load_pool_config(pool_tail, name);
    for (const auto& e : loaded.errors) FAIL_CHECK(e.to_string());
    REQUIRE(loaded.ok());
    return loaded;
}

BuildResult build_yaml(const std::string& plugins_yaml) {
    const auto loaded = load("    scheduler:\n" + plugins_yaml);
    return build_scheduler(loaded.config->pools.at(0).scheduler);
}

std::vector<std::string> errors(const BuildResult& r) {
    std::vector<std::string> out;
    for (const auto& e : r.errors) out.push_back(e.to_string());
    return out;
}

const ApproxPrefixCacheProducer& producer_of(const Scheduler& s, size_t i = 0) {
    REQUIRE(s.producers().size() > i);
    REQUIRE(s.producers()[i]->type() == ApproxPrefixCacheProducer::type_name);
    return static_cast<const ApproxPrefixCacheProducer&>(*s.producers()[i]);
}

// A few endpoints with fresh, identical metrics, and a scheduler to run.
struct Fleet {
    std::vector<std::shared_ptr<EndpointState>> owned;
    explicit Fleet(size_t n, bool with_metrics = true) {
        for (size_t i = 0; i < n; ++i) {
            owned.push_back(endpoint("10.0.0." + std::to_string(i + 1), 8000));
            if (with_metrics) owned.back()->publish(EngineMetrics{0, 0, 0.1}, Clock::now());
        }
    }
    // Runs `s` over every endpoint; returns the chosen index.
    size_t pick(const Scheduler& s, std::string_view prompt, PickScratch& scratch, std::string_view model = "m",
                std::string_view salt = "") {
        scratch.candidates.clear();
        for (auto& e : owned) scratch.candidates.push_back(e.get());
        SchedulingRequest req;
        req.model = model;
        req.prompt = prompt;
        req.cache_salt = salt;
        EndpointState* ep = s.run(req, scratch);
        REQUIRE(ep);
        for (size_t i = 0; i < owned.size(); ++i)
            if (owned[i].get() == ep) return i;
        FAIL("chosen endpoint not in the fleet");
        return 0;
    }
    std::vector<uint32_t> uids() const {
        std::vector<uint32_t> u;
        for (const auto& e : owned) u.push_back(e->uid());
        return u;
    }
};

std::shared_ptr<const Scheduler> prefix_only(const char* producer_params = "") {
    const std::string yaml = std::string(R"(      plugins:
        - type: approx-prefix-cache-producer
)") + producer_params + R"(        - type: prefix-cache-scorer
        - type: max-score-picker
      schedulingProfiles:
        - name: default
          plugins:
            - pluginRef: prefix-cache-scorer
            - pluginRef: max-score-picker
)";
    BuildResult r = build_yaml(yaml);
    for (const auto& e : r.errors) FAIL_CHECK(e.to_string());
    REQUIRE(r.scheduler);
    return r.scheduler;
}

}  // namespace

TEST_CASE("prefix hashing: blocks of blockSizeTokens * 4 characters, chained") {
    struct Case {
        const char* what;
        size_t length;
        size_t max_blocks;
        size_t blocks;
    };
    const Case cases[] = {
        {"empty prompt: no block", 0, SIZE_MAX, 0},
        {"shorter than a block: one partial block, as the reference", kBlock - 1, SIZE_MAX, 1},
        {"one character", 1, SIZE_MAX, 1},
        {"exactly one block", kBlock, SIZE_MAX, 1},
        {"exact multiple", 5 * kBlock, SIZE_MAX, 5},
        {"one character past a multiple", 5 * kBlock + 1, SIZE_MAX, 6},
        {"capped by max blocks", 10 * kBlock, 3, 3},
        {"cap of zero hashes nothing", 10 * kBlock, 0, 0},
    };
    for (const Case& c : cases) {
        CAPTURE(std::string(c.what));
        const std::string prompt(c.length, 'x');
        const auto h = hashes(prompt, "m", "", c.max_blocks);
        CHECK(h.size() == c.blocks);
        for (uint64_t v : h) CHECK(v != 0);
        CHECK(std::set<uint64_t>(h.begin(), h.end()).size() == h.size());  // chained: equal blocks differ
    }
}

TEST_CASE("prefix hashing: shared prefixes share hashes; models and salts never do") {
    const std::string a = text(6, 'a');
    std::string b = text(4, 'a') + text(2, 'A');  // shares 4 blocks with a
    CHECK(common_prefix(hashes(a), hashes(b)) == 4);
    CHECK(common_prefix(hashes(a), hashes(a)) == 6);
    // One changed character in block 2 changes block 2 and every later one.
    std::string c = a;
    c[2 * kBlock + 7] = '#';
    CHECK(common_prefix(hashes(a), hashes(c)) == 2);
    struct Case {
        const char* model;
        const char* salt;
        size_t shared;
    };
    const Case cases[] = {
        {"m", "", 6},        // same model, no salt
        {"other", "", 0},    // another model
        {"m", "s1", 0},      // a salt
        {"ms", "", 0},       // model "ms" is not model "m" + salt "s"
    };
    for (const Case& k : cases) {
        CAPTURE(k.model);
        CAPTURE(k.salt);
        CHECK(common_prefix(hashes(a), hashes(a, k.model, k.salt)) == k.shared);
    }
    CHECK(common_prefix(hashes(a, "m", "s"), hashes(a, "m", "s")) == 6);
    CHECK(common_prefix(hashes(a, "m", "s1"), hashes(a, "m", "s2")) == 0);
    CHECK(hashes(a, "m", "s") != hashes(a, "ms", ""));
}

TEST_CASE("prefix index: matching stops at the first block nobody holds") {
    Fleet f(3);
    std::vector<EndpointState*> cands;
    for (auto& e : f.owned) cands.push_back(e.get());
    PrefixIndex idx;
    const auto a = hashes(text(6, 'a'));
    const auto b = hashes(text(3, 'a') + text(3, 'B'));
    idx.add(f.owned[0]->uid(), 100, a);
    idx.add(f.owned[1]->uid(), 100, b);
    std::vector<uint32_t> m(3, 99);
    struct Case {
        const char* what;
        std::vector<uint64_t> query;
        std::vector<uint32_t> want;
    };
    const std::vector<uint64_t> other = hashes(text(6, 'z'));
    std::vector<uint64_t> gap = a;
    gap[1] = other[1];  // block 1 held by nobody: blocks 2.. are not counted
    const Case cases[] = {
        {"a: all of a on 0, its first 3 on 1", a, {6, 3, 0}},
        {"b: its first 3 on 0, all of b on 1", b, {3, 6, 0}},
        {"unknown prompt", other, {0, 0, 0}},
        {"a gap stops the walk", gap, {1, 1, 0}},
        {"no block", {}, {0, 0, 0}},
    };
    for (const Case& c : cases) {
        CAPTURE(std::string(c.what));
        idx.match(c.query, cands, m);
        CHECK(m == c.want);
    }
    CHECK(idx.size_blocks() == 12);
    CHECK(idx.distinct_blocks() == 9);  // the 3 shared blocks count once
    CHECK(idx.endpoint_count() == 2);
}

TEST_CASE("prefix index: per-endpoint LRU at capacity evicts tails before heads") {
    Fleet f(2);
    std::vector<EndpointState*> cands{f.owned[0].get(), f.owned[1].get()};
    PrefixIndex idx;
    const uint32_t u0 = f.owned[0]->uid();
    const auto x = hashes(text(3, 'a'));
    const auto y = hashes(text(3, 'k'));
    idx.add(u0, 4, x);
    idx.add(f.owned[1]->uid(), 4, x);  // the other endpoint's LRU is its own
    idx.add(u0, 4, y);                 // 6 blocks into 4: x's two tail blocks go first
    CHECK(idx.endpoint_blocks(u0) == 4);
    std::vector<uint32_t> m(2);
    idx.match(y, cands, m);
    CHECK(m == std::vector<uint32_t>{3, 0});
    idx.match(x, cands, m);
    CHECK(m == std::vector<uint32_t>{1, 3});  // only x's head is left on endpoint 0
    // Touching a held chain makes it recent again: y survives the next add.
    idx.add(u0, 4, y);
    idx.add(u0, 4, hashes(text(1, 'q')));
    idx.match(y, cands, m);
    CHECK(m[0] == 3);
    idx.match(x, cands, m);
    CHECK(m[0] == 0);
    CHECK(idx.size_blocks() == 4 + 3);
}

TEST_CASE("prefix index: removing an endpoint, and retain after a reload") {
    Fleet f(3);
    std::vector<EndpointState*> cands;
    for (auto& e : f.owned) cands.push_back(e.get());
    PrefixIndex idx;
    const auto a = hashes(text(4, 'a'));
    for (auto& e : f.owned) idx.add(e->uid(), 100, a);
    std::vector<uint32_t> m(3);
    idx.remove_endpoint(f.owned[1]->uid());
    idx.match(a, cands, m);
    CHECK(m == std::vector<uint32_t>{4, 0, 4});
    CHECK(idx.size_blocks() == 8);
    idx.remove_endpoint(f.owned[1]->uid());  // twice is harmless
    const uint32_t keep[] = {f.owned[2]->uid()};
    idx.retain(1, keep);
    idx.match(a, cands, m);
    CHECK(m == std::vector<uint32_t>{0, 0, 4});
    CHECK(idx.distinct_blocks() == 4);
    idx.add(f.owned[0]->uid(), 100, a);  // not in the pool any more: refused
    idx.match(a, cands, m);
    CHECK(m == std::vector<uint32_t>{0, 0, 4});
    idx.remove_endpoint(f.owned[2]->uid());
    CHECK(idx.size_blocks() == 0);
    CHECK(idx.distinct_blocks() == 0);
}

TEST_CASE("prefix index: retain ignores an older generation than the last applied") {
    Fleet f(3);
    std::vector<uint32_t> all = f.uids(), first_two = {all[0], all[1]}, last_two = {all[1], all[2]};
    const auto a = hashes(text(2, 'a'));
    struct Step {
        uint64_t generation;
        const std::vector<uint32_t>* uids;
    };
    struct Case {
        const char* name;
        std::vector<Step> steps;
        std::vector<uint64_t> blocks;  // per endpoint after the steps and an add to each
    };
    const Case cases[] = {
        {"newer after older applies", {{1, &first_two}, {2, &all}}, {2, 2, 2}},
        {"older after newer is ignored", {{2, &all}, {1, &first_two}}, {2, 2, 2}},
        {"older after newer is ignored, newer shrank", {{2, &last_two}, {1, &first_two}}, {0, 2, 2}},
        {"same generation applies again", {{2, &all}, {2, &first_two}}, {2, 2, 0}},
        {"generation 0 applies again", {{0, &last_two}, {0, &all}}, {2, 2, 2}},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        PrefixIndex idx;
        for (const Step& st : c.steps) {
            for (const uint32_t u : all) idx.add(u, 100, a);  // as picks between reloads
            idx.retain(st.generation, *st.uids);
        }
        for (const uint32_t u : all) idx.add(u, 100, a);
        std::vector<uint64_t> got;
        for (const uint32_t u : all) got.push_back(idx.endpoint_blocks(u));
        CHECK(got == c.blocks);
    }
}

TEST_CASE("prefix index: a reload's endpoints survive the previous configuration's first request") {
    // The previous configuration (generation 1, endpoints 0 and 1) never
    // served before the reload (generation 2 adds endpoint 2); a request
    // still running on it picks after the new configuration served.
    Fleet f(3);
    const auto uids = f.uids();
    const std::vector<uint32_t> old_uids = {uids[0], uids[1]};
    const PoolContext old_ctx{"gen", old_uids, 1};
    const PoolContext new_ctx{"gen", uids, 2};
    const BuildResult r1 = build_scheduler(config::SchedulerConfig{}, &old_ctx);
    const BuildResult r2 = build_scheduler(config::SchedulerConfig{}, &new_ctx);
    REQUIRE(r1.scheduler);
    REQUIRE(r2.scheduler);
    auto& idx = producer_of(*r2.scheduler).index();
    REQUIRE(&idx == &producer_of(*r1.scheduler).index());
    PickScratch scratch;
    // Load endpoints 0 and 1 so that the new configuration sends a cold
    // prompt to endpoint 2.
    for (size_t i = 0; i < 2; ++i) f.owned[i]->publish(EngineMetrics{20, 0, 0.9}, Clock::now());
    const std::string p = text(3, 'n');
    REQUIRE(f.pick(*r2.scheduler, p, scratch) == 2);
    REQUIRE(idx.endpoint_blocks(uids[2]) == 3);
    Fleet old(0);
    old.owned = {f.owned[0], f.owned[1]};
    old.pick(*r1.scheduler, text(2, 'o'), scratch);
    CHECK(idx.endpoint_blocks(uids[2]) == 3);
    // And endpoint 2 may still gain blocks.
    for (auto& e : f.owned) e->publish(EngineMetrics{0, 0, 0.1}, Clock::now());
    CHECK(f.pick(*r2.scheduler, p + text(1, 'z'), scratch) == 2);
    CHECK(idx.endpoint_blocks(uids[2]) == 4);
}

TEST_CASE("prefix-cache-scorer: matched / total blocks, through the scheduler") {
    Fleet f(3);
    const auto s = prefix_only();
    PickScratch scratch;
    const std::string first = text(8, 'a');
    const size_t home = f.pick(*s, first, scratch);
    const PrefixMatchInfo& info = scratch.prefix.at(0);
    CHECK(info.produced);
    CHECK(info.total_blocks == 8);
    CHECK(info.block_size_tokens == 64);
    struct Case {
        const char* what;
        std::string prompt;
        double home_score;
    };
    const Case cases[] = {
        {"same prompt", first, 1.0},
        {"shares 6 of 8 blocks", text(6, 'a') + text(2, 'Z'), 6.0 / 8},
        {"extends it: 8 of 16", first + text(8, 'Q'), 8.0 / 16},
        {"a partial last block", first + "tail", 8.0 / 9},
        {"unrelated", text(8, 'k'), 0.0},
    };
    for (const Case& c : cases) {
        CAPTURE(std::string(c.what));
        const size_t chosen = f.pick(*s, c.prompt, scratch);
        for (size_t i = 0; i < 3; ++i) {
            CAPTURE(i);
            // Every earlier case went home: the others hold nothing.
            CHECK(f.owned[i]->last_scores[0].load() == doctest::Approx(i == home ? c.home_score : 0.0));
        }
        if (c.home_score > 0) CHECK(chosen == home);  // max-score-picker follows the cache
    }
}

TEST_CASE("prefix-cache-scorer: edge cases") {
    const auto s = prefix_only();
    SUBCASE("empty prompt: 0 for all, nothing recorded") {
        Fleet f(2);
        PickScratch scratch;
        f.pick(*s, "", scratch);
        CHECK(scratch.prefix[0].total_blocks == 0);
        CHECK(f.owned[0]->last_scores[0].load() == 0.0);
        CHECK(f.owned[1]->last_scores[0].load() == 0.0);
        CHECK(producer_of(*s).index().size_blocks() == 0);
    }
    SUBCASE("ties: two endpoints holding the same prefix both score 1, the picker chooses among them") {
        Fleet f(3);
        PickScratch scratch;
        const std::string p = text(4, 'a');
        auto& idx = producer_of(*s).index();
        idx.add(f.owned[0]->uid(), 100, hashes(p));
        idx.add(f.owned[2]->uid(), 100, hashes(p));
        std::set<size_t> seen;
        for (int i = 0; i < 64; ++i) {
            seen.insert(f.pick(*s, p, scratch));
            CHECK(f.owned[0]->last_scores[0].load() == 1.0);
            CHECK(f.owned[1]->last_scores[0].load() == 0.0);
            CHECK(f.owned[2]->last_scores[0].load() == 1.0);
        }
        CHECK(seen == std::set<size_t>{0, 2});
    }
    SUBCASE("no metrics yet: the prefix still decides") {
        Fleet f(2, /*with_metrics=*/false);
        PickScratch scratch;
        const std::string p = text(3, 'a');
        producer_of(*s).index().add(f.owned[1]->uid(), 100, hashes(p));
        CHECK(f.pick(*s, p, scratch) == 1);
    }
    SUBCASE("different models and salts do not share") {
        Fleet f(2);
        PickScratch scratch;
        const std::string p = text(3, 'a');
        const size_t first = f.pick(*s, p, scratch, "m", "");
        f.pick(*s, p, scratch, "other", "");
        CHECK(f.owned[first]->last_scores[0].load() == 0.0);
        f.pick(*s, p, scratch, "m", "salt");
        CHECK(f.owned[first]->last_scores[0].load() == 0.0);
        f.pick(*s, p, scratch, "m", "");
        CHECK(f.owned[first]->last_scores[0].load() == 1.0);
    }
    SUBCASE("the decision is recorded for the chosen endpoint only") {
        Fleet f(3);
        PickScratch scratch;
        const size_t c = f.pick(*s, text(5, 'a'), scratch);
        for (size_t i = 0; i < 3; ++i) CHECK(producer_of(*s).index().endpoint_blocks(f.owned[i]->uid()) == uint64_t(i == c ? 5 : 0));
    }
}

TEST_CASE("prefix-cache-scorer: matchLengthWeight mixes in the squared match length") {
    BuildResult r = build_yaml(R"(      plugins:
        - type: prefix-cache-scorer
          parameters:
            matchLengthWeight: 0.5
            matchLengthScaleTokens: 1024
)");
    for (const auto& e : r.errors) FAIL_CHECK(e.to_string());
    REQUIRE(r.scheduler);
    Fleet f(2);
    PickScratch scratch;
    const std::string p = text(8, 'a');  // 8 blocks of 64 tokens = 512 tokens
    const size_t c = f.pick(*r.scheduler, p, scratch);
    f.pick(*r.scheduler, text(4, 'a') + text(4, 'Z'), scratch);  // 4 of 8 blocks: 256 tokens
    const double len = 256.0 / 1024;
    CHECK(f.owned[c]->last_scores[0].load() == doctest::Approx(0.5 * len * len + 0.5 * 0.5));
    CHECK(f.owned[1 - c]->last_scores[0].load() == 0.0);
}

TEST_CASE("approx-prefix-cache-producer: parameters, defaults and the older forms") {
    struct Case {
        const char* what;
        const char* yaml;
        int64_t block_tokens;       // configured
        int64_t effective;          // after the reference's minimum of 64
        size_t max_blocks;
        size_t capacity;
        const char* producer_name;  // of the scheduler's one producer
    };
    const Case cases[] = {
        {"defaults: 16 tokens (effective 64), 131072 / 64 blocks, 31250 per endpoint",
         R"(      plugins:
        - type: approx-prefix-cache-producer
        - type: prefix-cache-scorer
)", 16, 64, 2048, 31250, "approx-prefix-cache-producer"},
        {"on the producer",
         R"(      plugins:
        - type: approx-prefix-cache-producer
          name: px
          parameters:
            blockSizeTokens: 128
            maxPrefixTokensToMatch: 4096
            lruCapacityPerServer: 1000
            autoTune: false
        - type: prefix-cache-scorer
          parameters:
            prefixMatchInfoProducerName: px
)", 128, 128, 32, 1000, "px"},
        {"token cap 0: the block cap applies",
         R"(      plugins:
        - type: approx-prefix-cache-producer
          parameters:
            maxPrefixTokensToMatch: 0
            maxPrefixBlocksToMatch: 7
        - type: prefix-cache-scorer
)", 16, 64, 7, 31250, "approx-prefix-cache-producer"},
        {"both caps 0: unlimited",
         R"(      plugins:
        - type: approx-prefix-cache-producer
          parameters:
            maxPrefixTokensToMatch: 0
            maxPrefixBlocksToMatch: 0
            lruCapacityPerServer: 0
        - type: prefix-cache-scorer
)", 16, 64, SIZE_MAX, 31250, "approx-prefix-cache-producer"},
        {"the older form: parameters on the scorer give it its own producer",
         R"(      plugins:
        - type: prefix-cache-scorer
          name: pfx
          parameters:
            blockSizeTokens: 100
            maxPrefixBlocksToMatch: 9
            maxPrefixTokensToMatch: 0
            lruCapacityPerServer: 77
)", 100, 100, 9, 77, "pfx"},
        {"legacy character-based blockSize maps into blockSizeTokens, as the reference",
         R"(      plugins:
        - type: prefix-cache-scorer
          parameters:
            blockSize: 80
            autoTune: false
)", 80, 80, 131072 / 80, 31250, "prefix-cache-scorer"},
        {"blockSize is ignored when blockSizeTokens is set",
         R"(      plugins:
        - type: approx-prefix-cache-producer
          parameters:
            blockSize: 80
            blockSizeTokens: 96
        - type: prefix-cache-scorer
)", 96, 96, 131072 / 96, 31250, "approx-prefix-cache-producer"},
    };
    for (const Case& c : cases) {
        CAPTURE(std::string(c.what));
        BuildResult r = build_yaml(c.yaml);
        for (const auto& e : r.errors) FAIL_CHECK(e.to_string());
        REQUIRE(r.scheduler);
        REQUIRE(r.scheduler->producers().size() == 1);
        const auto& p = producer_of(*r.scheduler);
        CHECK(p.name() == c.producer_name);
        CHECK(p.params().block_size_tokens == c.block_tokens);
        CHECK(p.params().effective_block_tokens() == c.effective);
        CHECK(p.params().max_blocks() == c.max_blocks);
        CHECK(p.params().capacity() == c.capacity);
        // And it is the one the scorer reads: a decision produces into it.
        Fleet f(1);
        PickScratch scratch;
        f.pick(*r.scheduler, std::string(size_t(c.effective) * kCharsPerToken * 2, 'x'), scratch);
        CHECK(scratch.prefix[0].total_blocks == std::min<size_t>(2, c.max_blocks));
    }
}

TEST_CASE("approx-prefix-cache-producer: bad parameters fail at load with file:line:col") {
    struct Case {
        const char* what;
        const char* yaml;
        std::vector<std::string> errors;
    };
    const Case cases[] = {
        {"negative block size", R"(      plugins:
        - type: approx-prefix-cache-producer
          parameters:
            blockSizeTokens: -1
)", {"infergate.yaml:20:30: parameter 'blockSizeTokens' of plugin 'approx-prefix-cache-producer' must be between "
     "0 and 1048576, got -1"}},
        {"zero block size without autoTune", R"(      plugins:
        - type: approx-prefix-cache-producer
          parameters:
            autoTune: false
            blockSizeTokens: 0
)", {"infergate.yaml:21:30: parameter 'blockSizeTokens' of plugin 'approx-prefix-cache-producer' must be > 0 "
     "when autoTune is false"}},
        {"negative token cap", R"(      plugins:
        - type: approx-prefix-cache-producer
          parameters:
            maxPrefixTokensToMatch: -5
)", {"infergate.yaml:20:37: parameter 'maxPrefixTokensToMatch' of plugin 'approx-prefix-cache-producer' must be "
     "between 0 and 2147483647, got -5"}},
        {"autoTune not a boolean", R"(      plugins:
        - type: approx-prefix-cache-producer
          parameters:
            autoTune: maybe
)", {"infergate.yaml:20:23: parameter 'autoTune' of plugin 'approx-prefix-cache-producer' must be true or "
     "false"}},
        {"unknown parameter", R"(      plugins:
        - type: approx-prefix-cache-producer
          parameters:
            lruCapacityPerSever: 10
)", {"infergate.yaml:20:13: unknown parameter 'lruCapacityPerSever' for plugin 'approx-prefix-cache-producer' "
     "(type 'approx-prefix-cache-producer') (did you mean 'lruCapacityPerServer'?)"}},
        {"negative block cap", R"(      plugins:
        - type: approx-prefix-cache-producer
          parameters:
            maxPrefixBlocksToMatch: -1
)", {"infergate.yaml:20:37: parameter 'maxPrefixBlocksToMatch' of plugin 'approx-prefix-cache-producer' must be "
     "between 0 and 2147483647, got -1"}},
        {"legacy blockSize negative", R"(      plugins:
        - type: approx-prefix-cache-producer
          parameters:
            blockSize: -64
)", {"infergate.yaml:20:24: parameter 'blockSize' of plugin 'approx-prefix-cache-producer' must be between 0 and "
     "1048576, got -64"}},
        {"negative capacity", R"(      plugins:
        - type: approx-prefix-cache-producer
          parameters:
            lruCapacityPerServer: -1
)", {"infergate.yaml:20:35: parameter 'lruCapacityPerServer' of plugin 'approx-prefix-cache-producer' must be "
     "between 0 and 2147483647, got -1"}},
        {"scorer: matchLengthScaleTokens 0 with a length weight", R"(      plugins:
        - type: prefix-cache-scorer
          parameters:
            matchLengthWeight: 0.5
            matchLengthScaleTokens: 0
)", {"infergate.yaml:21:37: parameter 'matchLengthScaleTokens' of plugin 'prefix-cache-scorer' must be > 0 when "
     "matchLengthWeight is > 0"}},
        {"scorer: producer name not a string", R"(      plugins:
        - type: prefix-cache-scorer
          parameters:
            prefixMatchInfoProducerName: [a, b]
)", {"infergate.yaml:20:42: parameter 'prefixMatchInfoProducerName' of plugin 'prefix-cache-scorer' must be a "
     "string"}},
        {"scorer: matchLengthWeight out of range", R"(      plugins:
        - type: prefix-cache-scorer
          parameters:
            matchLengthWeight: 1.5
)", {"infergate.yaml:20:32: parameter 'matchLengthWeight' of plugin 'prefix-cache-scorer' must be between 0 and "
     "1, got 1.5"}},
        {"scorer: producer that does not exist", R"(      plugins:
        - type: prefix-cache-scorer
          parameters:
            prefixMatchInfoProducerName: nope
)", {"infergate.yaml:17:7: scorer 'prefix-cache-scorer' reads producer 'nope', which is not among the plugins"}},
        {"scorer: producer that is not a producer", R"(      plugins:
        - type: queue-scorer
        - type: prefix-cache-scorer
          parameters:
            prefixMatchInfoProducerName: queue-scorer
)", {"infergate.yaml:17:7: scorer 'prefix-cache-scorer' reads producer 'queue-scorer', but 'queue-scorer' is a "
     "scorer"}},
        {"scorer: older form and a producer name", R"(      plugins:
        - type: prefix-cache-scorer
          parameters:
            prefixMatchInfoProducerName: x
            blockSizeTokens: 64
)", {"infergate.yaml:20:42: plugin 'prefix-cache-scorer': prefixMatchInfoProducerName cannot be combined with "
     "producer parameters on the scorer; put them on the producer"}},
        {"scorer: older form with a bad value", R"(      plugins:
        - type: prefix-cache-scorer
          parameters:
            lruCapacityPerServer: many
)", {"infergate.yaml:20:35: parameter 'lruCapacityPerServer' of plugin 'prefix-cache-scorer' must be an "
     "integer"}},
    };
    for (const Case& c : cases) {
        CAPTURE(std::string(c.what));
        const BuildResult r = build_yaml(c.yaml);
        CHECK(r.scheduler == nullptr);
        const auto got = errors(r);
        CHECK(got.size() == c.errors.size());
        for (size_t i = 0; i < got.size() && i < c.errors.size(); ++i) CHECK(got[i] == c.errors[i]);
    }
}

TEST_CASE("reference sample configs load unchanged and build the documented profile") {
    // tests/unit/picker/data/{epp-config,sim-epp-config}.yaml are verbatim
    // copies of llm-d-router ebab687927f5 deploy/config/ (see data/README.md).
    struct Case {
        const char* file;
        int64_t max_prefix_tokens;
    };
    const Case cases[] = {{"epp-config.yaml", 131072}, {"sim-epp-config.yaml", 16384}};
    for (const Case& c : cases) {
        CAPTURE(c.file);
        const auto loaded =
            load(std::string("    scheduler: ") + c.file + "\n", std::string(PICKER_TEST_DATA) + "/infergate.yaml");
        const BuildResult r = build_scheduler(loaded.config->pools.at(0).scheduler);
        for (const auto& e : r.errors) FAIL_CHECK(e.to_string());
        REQUIRE(r.scheduler);
        const Scheduler& s = *r.scheduler;
        CHECK(s.profile() == "default");
        REQUIRE(s.filters().size() == 1);
        CHECK(s.filters()[0]->type() == "decode-filter");
        REQUIRE(s.scorers().size() == 1);
        CHECK(s.scorers()[0].scorer->type() == "prefix-cache-scorer");
        CHECK(s.scorers()[0].weight == 2.0);
        CHECK(s.picker().type() == "max-score-picker");
        // epp-config.yaml lists no producer: the default one is created.
        const auto& p = producer_of(s);
        CHECK(p.name() == "approx-prefix-cache-producer");
        CHECK(p.params().max_prefix_tokens == c.max_prefix_tokens);
        CHECK(p.params().capacity() == 31250);
        // Behaves as documented: a repeated prefix goes back where it went.
        Fleet f(4);
        PickScratch scratch;
        const std::string prompt = text(10, 'a');
        const size_t home = f.pick(s, prompt, scratch);
        for (int i = 0; i < 10; ++i) CHECK(f.pick(s, prompt + std::to_string(i), scratch) == home);
    }
}

TEST_CASE("default profile: queue-scorer 2, kv-cache-utilization-scorer 2, prefix-cache-scorer 3") {
    const BuildResult r = build_scheduler(config::SchedulerConfig{});
    REQUIRE(r.scheduler);
    const Scheduler& s = *r.scheduler;
    REQUIRE(s.scorers().size() == 3);
    CHECK(s.scorers()[0].scorer->type() == "queue-scorer");
    CHECK(s.scorers()[0].weight == 2.0);
    CHECK(s.scorers()[1].scorer->type() == "kv-cache-utilization-scorer");
    CHECK(s.scorers()[1].weight == 2.0);
    CHECK(s.scorers()[2].scorer->type() == "prefix-cache-scorer");
    CHECK(s.scorers()[2].weight == 3.0);
    CHECK(s.picker().type() == "max-score-picker");
    CHECK(producer_of(s).name() == "approx-prefix-cache-producer");
    // The prefix follows the cache while the load is equal, and yields to a
    // much better queue/KV picture (2 + 2 > 3).
    Fleet f(3);
    PickScratch scratch;
    const std::string p = text(6, 'a');
    const size_t home = f.pick(s, p, scratch);
    for (int i = 0; i < 5; ++i) CHECK(f.pick(s, p, scratch) == home);
    for (size_t i = 0; i < 3; ++i)
        f.owned[i]->publish(i == home ? EngineMetrics{20, 0, 0.9} : EngineMetrics{0, 0, 0.0}, Clock::now());
    CHECK(f.pick(s, p, scratch) != home);
}

TEST_CASE("prefix index survives a rebuild for the same pool and parameters") {
    Fleet f(3);
    const auto uids = f.uids();
    const PoolContext ctx{"p", uids};
    const BuildResult r1 = build_scheduler(config::SchedulerConfig{}, &ctx);
    REQUIRE(r1.scheduler);
    PickScratch scratch;
    const std::string p = text(4, 'a');
    const size_t home = f.pick(*r1.scheduler, p, scratch);
    // Same pool, same parameters, previous scheduler alive: the same index.
    const BuildResult r2 = build_scheduler(config::SchedulerConfig{}, &ctx);
    REQUIRE(r2.scheduler);
    CHECK(&producer_of(*r2.scheduler).index() == &producer_of(*r1.scheduler).index());
    // ... which the statistics identify, so that metrics count it once.
    CHECK(prefix_index_stats(*r2.scheduler).at(0).index == &producer_of(*r1.scheduler).index());
    CHECK(prefix_index_stats(*r2.scheduler).at(0).index == prefix_index_stats(*r1.scheduler).at(0).index);
    // Another pool, or other parameters: a new index.
    const PoolContext other{"q", uids};
    const BuildResult rq = build_scheduler(config::SchedulerConfig{}, &other);
    CHECK(&producer_of(*rq.scheduler).index() != &producer_of(*r1.scheduler).index());
    CHECK(prefix_index_stats(*rq.scheduler).at(0).index != prefix_index_stats(*r1.scheduler).at(0).index);
    const auto loaded = load("    scheduler:\n      plugins:\n        - type: prefix-cache-scorer\n"
                             "          parameters:\n            lruCapacityPerServer: 5\n");
    const BuildResult r3 = build_scheduler(loaded.config->pools.at(0).scheduler, &ctx);
    REQUIRE(r3.scheduler);
    CHECK(&producer_of(*r3.scheduler).index() != &producer_of(*r1.scheduler).index());
    // The new scheduler still knows where the prefix went.
    CHECK(f.pick(*r2.scheduler, p, scratch) == home);
    CHECK(f.owned[home]->last_scores[2].load() == 1.0);
    // A pool that lost the home endpoint: its blocks go at the first
    // decision of the new configuration.
    std::vector<uint32_t> fewer;
    for (size_t i = 0; i < 3; ++i)
        if (i != home) fewer.push_back(uids[i]);
    const PoolContext smaller{"p", fewer};
    const BuildResult r4 = build_scheduler(config::SchedulerConfig{}, &smaller);
    auto& idx = producer_of(*r4.scheduler).index();
    CHECK(&idx == &producer_of(*r1.scheduler).index());
    CHECK(idx.endpoint_blocks(uids[home]) == 4);  // not yet: the build alone changes nothing
    Fleet g(0);
    for (size_t i = 0; i < 3; ++i)
        if (i != home) g.owned.push_back(f.owned[i]);
    g.pick(*r4.scheduler, text(2, 'k'), scratch);
    CHECK(idx.endpoint_blocks(uids[home]) == 0);
    CHECK(idx.size_blocks() == 2);
}

TEST_CASE("prefix index statistics: size, lookups, hits and the hit-ratio histogram") {
    Fleet f(2);
    const BuildResult r = build_scheduler(config::SchedulerConfig{});
    REQUIRE(r.scheduler);
    auto stats = prefix_index_stats(*r.scheduler);
    REQUIRE(stats.size() == 1);
    CHECK(stats[0].producer == "approx-prefix-cache-producer");
    CHECK(stats[0].size_blocks == 0);
    CHECK(stats[0].lookups == 0);
    PickScratch scratch;
    f.pick(*r.scheduler, text(4, 'a'), scratch);                // cold: ratio 0
    f.pick(*r.scheduler, text(4, 'a'), scratch);                // 4/4
    f.pick(*r.scheduler, text(1, 'a') + text(3, 'Z'), scratch);  // 1/4
    f.pick(*r.scheduler, "", scratch);                          // no block: not observed
    stats = prefix_index_stats(*r.scheduler);
    REQUIRE(stats.size() == 1);
    const PrefixIndexStats& st = stats[0];
    CHECK(st.lookups == 3);
    CHECK(st.hits == 2);
    CHECK(st.matched_blocks == 5);
    CHECK(st.total_blocks == 12);
    CHECK(st.ratio_sum == doctest::Approx(1.25));
    const std::array<uint64_t, 11> le{1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3};  // 0, 0.25 (<= 0.3), 1
    CHECK(st.ratio_le == le);
    // 4 blocks, plus 3 new ones (and the shared head touched) on whichever
    // endpoint took the third request.
    CHECK(st.size_blocks == 7);
}

TEST_CASE("prefix index: matching is the same with few and with many holders and candidates") {
    // Up to 16 candidates are found by a scan of their uids, more through a
    // uid table; holders that are not candidates (filtered out) count for
    // nobody, however many they are.
    for (const size_t ncands : {1, 3, 16, 17, 25}) {
        for (const size_t holders : {1, 2, 16, 17, 40}) {
            CAPTURE(ncands);
            CAPTURE(holders);
            Fleet f(50, false);
            // Only even endpoints are candidates; the odd ones hold too.
            std::vector<EndpointState*> even;
            for (size_t i = 0; i < 2 * ncands; i += 2) even.push_back(f.owned[i].get());
            PrefixIndex idx;
            const auto a = hashes(text(5, 'a'));
            // Endpoint i < holders holds the first 5 - i % 3 blocks.
            for (size_t i = 0; i < holders; ++i)
                idx.add(f.owned[i]->uid(), 100, std::span<const uint64_t>(a).first(5 - i % 3));
            std::vector<uint32_t> m(even.size(), 7);
            idx.match(a, even, m);
            for (size_t k = 0; k < even.size(); ++k) {
                CAPTURE(k);
                const size_t i = 2 * k;
                CHECK(m[k] == (i < holders ? 5 - i % 3 : 0));
            }
        }
    }
}

// --- the backlog: index insertion deferred past the request (index_backlog.hpp)

namespace {

// Blocks held by endpoint 0 of `f` for `chain`, from the head.
uint32_t held(const PrefixIndex& idx, Fleet& f, const std::vector<uint64_t>& chain) {
    std::vector<EndpointState*> cands{f.owned[0].get()};
    std::vector<uint32_t> m(1);
    idx.match(chain, cands, m);
    return m[0];
}

}  // namespace

TEST_CASE("index backlog: a chain's head at once, its tail in slices, the whole after a drain") {
    IndexBacklog& bl = IndexBacklog::mine();
    bl.run(SIZE_MAX);  // this thread's backlog, empty for the test
    constexpr size_t S = IndexBacklog::kSyncBlocks;
    struct Case {
        size_t blocks;
        size_t slice;
    };
    const Case cases[] = {{1, 64}, {S, 64}, {S + 1, 64}, {S + 200, 64}, {S + 200, 1000}, {3 * S, 7}};
    for (const Case& c : cases) {
        CAPTURE(c.blocks);
        CAPTURE(c.slice);
        Fleet f(1);
        auto idx = std::make_shared<PrefixIndex>();
        const auto chain = hashes(text(c.blocks, 'a'));
        REQUIRE(chain.size() == c.blocks);
        bl.record(idx, f.owned[0]->uid(), 100000, chain);
        const size_t later = c.blocks > S ? c.blocks - S : 0;
        CHECK(idx->endpoint_blocks(f.owned[0]->uid()) == c.blocks - later);
        CHECK(held(*idx, f, chain) == c.blocks - later);  // the head matches already
        CHECK(bl.pending_blocks() == later);
        CHECK(bl.pending() == (later > 0));
        size_t runs = 0;
        while (bl.pending() && runs < 1000) {
            const size_t before = bl.pending_blocks();
            const size_t done = bl.run(c.slice);
            CHECK(done == std::min(c.slice, before));
            CHECK(bl.pending_blocks() == before - done);
            ++runs;
        }
        CHECK(runs == (later + c.slice - 1) / c.slice);
        CHECK(idx->endpoint_blocks(f.owned[0]->uid()) == c.blocks);
        CHECK(held(*idx, f, chain) == c.blocks);
    }
}

TEST_CASE("index backlog: the LRU ends as one synchronous add leaves it (the head most recent)") {
    IndexBacklog& bl = IndexBacklog::mine();
    bl.run(SIZE_MAX);
    constexpr size_t S = IndexBacklog::kSyncBlocks;
    // Capacities below, at and above the chain: the chain evicts its own
    // blocks, or an older chain's, or nothing.
    for (const size_t capacity : {S / 2, S + 72, 2 * S + 100, 3 * S, 10 * S}) {
        CAPTURE(capacity);
        Fleet f(1);
        const uint32_t uid = f.owned[0]->uid();
        const auto old_chain = hashes(text(S, 'k'));
        const auto chain = hashes(text(2 * S + 44, 'a'));
        PrefixIndex direct;
        auto deferred = std::make_shared<PrefixIndex>();
        direct.add(uid, capacity, old_chain);
        deferred->add(uid, capacity, old_chain);
        direct.add(uid, capacity, chain);
        bl.record(deferred, uid, capacity, chain);
        while (bl.pending()) bl.run(50);
        CHECK(deferred->endpoint_blocks(uid) == direct.endpoint_blocks(uid));
        CHECK(held(*deferred, f, chain) == held(direct, f, chain));
        CHECK(held(*deferred, f, old_chain) == held(direct, f, old_chain));
        // And the next eviction takes the same blocks in both.
        const auto next = hashes(text(S / 2, 'q'));
        direct.add(uid, capacity, next);
        deferred->add(uid, capacity, next);
        CHECK(held(*deferred, f, chain) == held(direct, f, chain));
        CHECK(held(*deferred, f, old_chain) == held(direct, f, old_chain));
    }
}

TEST_CASE("index backlog: bounded; beyond the bound a decision records its whole chain at once") {
    IndexBacklog& bl = IndexBacklog::mine();
    bl.run(SIZE_MAX);
    constexpr size_t S = IndexBacklog::kSyncBlocks;
    Fleet f(1);
    const uint32_t uid = f.owned[0]->uid();
    auto idx = std::make_shared<PrefixIndex>();
    const size_t per = 2048;  // the default maximum chain (maxPrefixTokensToMatch / 64)
    size_t queued = 0;
    char tag = 'a';
    // Fill the backlog to just under its bound with distinct chains.
    while (queued + (per - S) <= IndexBacklog::kMaxBlocks) {
        bl.record(idx, uid, SIZE_MAX / 2, hashes(text(per, tag++)));
        queued += per - S;
        REQUIRE(bl.pending_blocks() == queued);
    }
    const auto over = hashes(text(per, tag));
    bl.record(idx, uid, SIZE_MAX / 2, over);
    CHECK(bl.pending_blocks() == queued);  // not queued
    CHECK(held(*idx, f, over) == per);     // recorded whole, now
    bl.run(SIZE_MAX);
    CHECK_FALSE(bl.pending());
    CHECK(idx->endpoint_blocks(uid) == (queued / (per - S) + 1) * per);
}

TEST_CASE("index backlog: an entry keeps its index alive after the producer is gone") {
    IndexBacklog& bl = IndexBacklog::mine();
    bl.run(SIZE_MAX);
    Fleet f(1);
    std::weak_ptr<PrefixIndex> watch;
    {
        auto idx = std::make_shared<PrefixIndex>();
        watch = idx;
        bl.record(idx, f.owned[0]->uid(), 100000, hashes(text(IndexBacklog::kSyncBlocks + 10, 'a')));
    }
    CHECK_FALSE(watch.expired());
    bl.run(SIZE_MAX);
    CHECK(watch.expired());  // released once applied
}

TEST_CASE("approx-prefix-cache-producer: a long prompt's tail reaches the index through the backlog") {
    IndexBacklog& bl = IndexBacklog::mine();
    bl.run(SIZE_MAX);
    constexpr size_t S = IndexBacklog::kSyncBlocks;
    Fleet f(3);
    const auto s = prefix_only();
    PickScratch scratch;
    const std::string prompt = text(S + 100, 'a');
    const size_t home = f.pick(*s, prompt, scratch);
    CHECK(bl.pending_blocks() == 100);
    // Right behind it, before the backlog ran: the head already pulls the
    // same prompt home.
    CHECK(f.pick(*s, prompt, scratch) == home);
    CHECK(scratch.prefix.at(0).matched.at(home) == S);
    bl.run(SIZE_MAX);
    CHECK(f.pick(*s, prompt, scratch) == home);
    CHECK(scratch.prefix.at(0).matched.at(home) == S + 100);
    bl.run(SIZE_MAX);
}
