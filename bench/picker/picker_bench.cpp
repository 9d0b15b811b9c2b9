// Picker microbenchmark (issue 6, "Speed"): one decision with the default
// profile (queue-scorer 2, kv-cache-utilization-scorer 2, prefix-cache-scorer
// 3 with approx-prefix-cache-producer, max-score-picker) through
// PoolPicker::pick, over 8, 64 and 256 endpoints with a 4 KiB and a 64 KiB
// prompt, the prefix index warmed so that the prompts hit; and the
// prefix-hash throughput. Run it pinned: bench/scripts/picker_bench.sh.
//
// Targets: median decision under 5 us for 64 endpoints and a 4 KiB prompt;
// hashing at least 2 GB/s on one core.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "picker/index_backlog.hpp"
#include "picker/prefix_hash.hpp"
#include "picker/scheduler.hpp"

using namespace infergate;
using namespace infergate::picker;

namespace {

// Text that does not compress into repeated blocks: words from a counter.
std::string filler(size_t bytes, uint64_t seed) {
    std::string s;
    s.reserve(bytes + 32);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    while (s.size() < bytes) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s += "tok";
        s += std::to_string(x % 100000);
        s += ' ';
    }
    s.resize(bytes);
    return s;
}

struct Setup {
    std::vector<std::shared_ptr<EndpointState>> eps;
    std::unique_ptr<PoolPicker> picker;
    std::vector<std::string> prompts;  // conversations: shared system prompt + own history
    PickScratch scratch;
    Clock::time_point now = Clock::now();

    Setup(size_t endpoints, size_t prompt_bytes) {
        for (size_t i = 0; i < endpoints; ++i) {
            config::Endpoint e;
            e.address.host = "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
            e.address.port = 8000;
            eps.push_back(std::make_shared<EndpointState>("bench", std::move(e)));
            // Varied, fresh metrics: the load scorers have work to do.
            eps.back()->publish(EngineMetrics{double(i % 7), double(i % 11), 0.05 * double(i % 13)}, now);
        }
        const auto uids = [&] {
            std::vector<uint32_t> u;
            for (const auto& e : eps) u.push_back(e->uid());
            return u;
        }();
        const PoolContext ctx{"bench", uids};
        BuildResult b = build_scheduler(config::SchedulerConfig{}, &ctx);
        picker = std::make_unique<PoolPicker>("bench", eps, b.scheduler, std::chrono::hours(1),
                                              config::FailureMode::fail_open);
        // 32 conversations: 3/4 of the prompt is a system prompt shared by
        // groups of 8, the rest is the conversation's own.
        const size_t shared = prompt_bytes * 3 / 4;
        for (uint64_t c = 0; c < 32; ++c)
            prompts.push_back(filler(shared, c / 8) + filler(prompt_bytes - shared, 1000 + c));
        // Warm: every conversation decided a few times, so the index holds
        // their blocks and the measured decisions hit.
        for (int round = 0; round < 4; ++round)
            for (const auto& p : prompts) decide(p);
    }

    EndpointState* decide(const std::string& prompt) {
        SchedulingRequest req;
        req.model = "meta-llama/Llama-3.1-8B-Instruct";
        req.prompt = prompt;
        return picker->pick(req, now, nullptr, scratch).endpoint;
    }
};

void BM_Decision(benchmark::State& state) {
    Setup s(size_t(state.range(0)), size_t(state.range(1)) * 1024);
    size_t i = 0;
    uint64_t hits = 0;
    for (auto _ : state) {
        EndpointState* ep = s.decide(s.prompts[i++ % s.prompts.size()]);
        benchmark::DoNotOptimize(ep);
        // A 64 KiB prompt's chain is 256 blocks: the index work deferred
        // past the request (index_backlog.hpp) is counted here too.
        IndexBacklog::mine().run(SIZE_MAX);
        const auto& info = s.scratch.prefix[0];
        hits += info.chosen < info.matched.size() && info.matched[info.chosen] > 0;
    }
    state.counters["hit_rate"] = double(hits) / double(state.iterations());
    state.SetBytesProcessed(int64_t(state.iterations()) * state.range(1) * 1024);
}

// The large-prompt scenario's decision (bench scenario 2, prompts.sh): every
// prompt unique (no hits), ~220 KB, 4 endpoints. Each decision hashes the
// prompt, misses, and records its 859 blocks for the chosen endpoint,
// evicting as many once the LRU is full (the steady state: the warm-up
// fills the 4 default-capacity LRUs). Argument `deferred`: 0 counts the
// pick with all its index work, 1 the pick alone (what delays the request:
// the tail of the chain is inserted after it went upstream,
// index_backlog.hpp, here outside the timing).
void BM_UniqueLargeDecision(benchmark::State& state) {
    Setup s(4, 4);
    std::string prompt = filler(size_t(state.range(0)) * 1024, 42);
    uint64_t n = 0;
    const auto stamp = [&] {  // a unique head: the whole chain differs
        const std::string id = std::to_string(++n) + ":";
        prompt.replace(0, id.size(), id);
    };
    for (int i = 0; i < 400; ++i) {  // fill the LRUs (31250 blocks x 4)
        stamp();
        s.decide(prompt);
        IndexBacklog::mine().run(SIZE_MAX);
    }
    const bool deferred = state.range(1) != 0;
    for (auto _ : state) {
        state.PauseTiming();
        stamp();
        state.ResumeTiming();
        benchmark::DoNotOptimize(s.decide(prompt));
        if (deferred) state.PauseTiming();
        IndexBacklog::mine().run(SIZE_MAX);
        if (deferred) state.ResumeTiming();
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * state.range(0) * 1024);
}

void BM_PrefixHash(benchmark::State& state) {
    const std::string text = filler(size_t(state.range(0)) * 1024, 7);
    std::vector<uint64_t> out;
    const uint64_t seed = prefix_seed("meta-llama/Llama-3.1-8B-Instruct", "");
    for (auto _ : state) {
        // The default block: 64 tokens x 4 characters; no block cap.
        prefix_block_hashes(text, seed, 64 * kCharsPerToken, SIZE_MAX, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
}

}  // namespace

BENCHMARK(BM_Decision)
    ->ArgNames({"endpoints", "prompt_kib"})
    ->ArgsProduct({{8, 64, 256}, {4, 64}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_UniqueLargeDecision)
    ->ArgNames({"kib", "deferred"})
    ->ArgsProduct({{220}, {0, 1}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PrefixHash)->ArgName("kib")->Arg(4)->Arg(64)->Arg(1024);

BENCHMARK_MAIN();
