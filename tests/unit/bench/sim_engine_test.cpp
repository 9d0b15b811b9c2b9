// Unit tests of infergate-sim's engine model: tokenizer, KV cache with
// prefix caching and LRU eviction, scheduler limits, step-time formula,
// preemption, hold/release and determinism. No sockets, no clocks.
#include <doctest/doctest.h>

#include <string>
#include <tuple>
#include <vector>

#include "bench/sim/engine.hpp"
#include "bench/sim/kv_cache.hpp"
#include "bench/sim/metrics.hpp"
#include "bench/sim/tokenizer.hpp"

using namespace infergate::sim;

namespace {

// Small, round numbers so expected times are easy to compute by hand.
EngineConfig small_config() {
    EngineConfig c;
    c.models = {"test-model"};
    c.max_num_seqs = 8;
    c.max_num_batched_tokens = 512;
    c.block_size = 16;
    c.kv_blocks = 64;
    c.max_model_len = 4096;
    c.step_base_us = 1000;
    c.prefill_us_per_token = 10;
    c.decode_us_per_seq = 100;
    c.prefill_attn_ns_per_pair = 0;
    return c;
}

Prompt prompt_of(const Engine& e, const std::string& text) {
    const EngineConfig& c = e.config();
    return tokenize(text, c.chars_per_token, c.block_size, hash_seed_for_model(c.models.front()));
}

RequestId submit(Engine& e, const std::string& text, std::uint32_t max_tokens) {
    RequestId id = 0;
    REQUIRE(e.submit(prompt_of(e, text), max_tokens, id) == SubmitError::none);
    return id;
}

struct Event {
    double time_us;
    RequestId id;
    bool finished;
    bool operator==(const Event&) const = default;
};

// Runs steps until idle (bounded); returns every output with its time.
std::vector<Event> run(Engine& e, int max_steps = 10000) {
    std::vector<Event> events;
    std::vector<Output> out;
    for (int i = 0; i < max_steps; ++i) {
        if (!e.begin_step()) return events;
        e.end_step(out);
        for (const Output& o : out) events.push_back({e.now_us(), o.id, o.finished});
        out.clear();
    }
    FAIL("engine did not go idle");
    return events;
}

std::string text_of(char c, std::size_t tokens) { return std::string(tokens * 4, c); }

}  // namespace

TEST_CASE("tokenizer: ~4 characters per token, full blocks hashed") {
    CHECK(count_tokens("", 4) == 0);
    CHECK(count_tokens("abcd", 4) == 1);
    CHECK(count_tokens("abcde", 4) == 2);
    CHECK(count_tokens(std::string(100, 'x'), 4) == 25);
    CHECK(count_tokens("abcdef", 3) == 2);

    const auto seed = hash_seed_for_model("m");
    const Prompt p = tokenize(std::string(16 * 4 * 2 + 5, 'a'), 4, 16, seed);  // 34 tokens
    CHECK(p.num_tokens == 34);
    CHECK(p.block_hashes.size() == 2);
    // Chained: same first block, different second block -> one shared hash.
    const Prompt q = tokenize(std::string(64, 'a') + std::string(64, 'b'), 4, 16, seed);
    CHECK(q.block_hashes[0] == p.block_hashes[0]);
    CHECK(q.block_hashes[1] != p.block_hashes[1]);
    // Another model never shares blocks.
    CHECK(tokenize(std::string(64, 'a'), 4, 16, hash_seed_for_model("other")).block_hashes[0] !=
          p.block_hashes[0]);

    const std::vector<ChatMessage> msgs{{"system", "be brief"}, {"user", "hi"}};
    CHECK(render_chat(msgs) == "<|system|>\nbe brief\n<|user|>\nhi\n<|assistant|>\n");
    CHECK(token_word(1, 7, 3) == token_word(1, 7, 3));
}

TEST_CASE("step time: base + prefill tokens + decoding sequences (+ attention pairs)") {
    EngineConfig c = small_config();
    Engine e(c);
    submit(e, text_of('a', 100), 3);
    auto d = e.begin_step();
    REQUIRE(d);
    CHECK(e.last_step().prefill_tokens == 100);
    CHECK(e.last_step().decode_seqs == 0);
    CHECK(*d == doctest::Approx(1000 + 10 * 100));
    std::vector<Output> out;
    e.end_step(out);
    REQUIRE(out.size() == 1);  // first token at the end of the prefill step
    CHECK(e.now_us() == doctest::Approx(2000));
    d = e.begin_step();
    CHECK(e.last_step().decode_seqs == 1);
    CHECK(*d == doctest::Approx(1000 + 100));

    // Attention term: a 100-token chunk from position 0 is 100*101/2 pairs.
    c.prefill_attn_ns_per_pair = 2.0;
    Engine q(c);
    submit(q, text_of('a', 100), 1);
    d = q.begin_step();
    CHECK(q.last_step().attn_pairs == doctest::Approx(5050));
    CHECK(*d == doctest::Approx(1000 + 10 * 100 + 2.0 * 5050 / 1000));
}

TEST_CASE("chunked prefill respects max-num-batched-tokens, decodes first") {
    EngineConfig c = small_config();
    c.max_num_batched_tokens = 64;
    Engine e(c);
    submit(e, text_of('a', 10), 5);
    std::vector<Output> out;
    REQUIRE(e.begin_step());
    e.end_step(out);  // request 1 prefilled
    submit(e, text_of('b', 200), 1);
    REQUIRE(e.begin_step());
    CHECK(e.last_step().decode_seqs == 1);
    CHECK(e.last_step().prefill_tokens == 63);  // budget 64 minus one decode
}

TEST_CASE("prefix caching: a repeated prompt hits its full blocks") {
    Engine e(small_config());
    const std::string text = text_of('p', 100);  // 100 tokens: 6 full blocks
    submit(e, text, 2);
    run(e);
    CHECK(e.counters().prefix_cache_queries == 100);
    CHECK(e.counters().prefix_cache_hits == 0);
    submit(e, text, 2);
    REQUIRE(e.begin_step());
    CHECK(e.last_step().prefill_tokens == 100 - 96);  // only the uncached tail
    std::vector<Output> out;
    e.end_step(out);
    run(e);
    CHECK(e.counters().prefix_cache_queries == 200);
    CHECK(e.counters().prefix_cache_hits == 96);

    // A prompt that is exactly 4 full blocks still recomputes its last
    // token, so only 3 blocks can hit.
    const std::string exact = text_of('q', 64);
    submit(e, exact, 1);
    run(e);
    submit(e, exact, 1);
    run(e);
    CHECK(e.counters().prefix_cache_hits == 96 + 48);
}

TEST_CASE("prefix caching: blocks are shared while the first request still runs") {
    Engine e(small_config());
    const std::string text = text_of('s', 64);
    submit(e, text, 50);
    std::vector<Output> out;
    REQUIRE(e.begin_step());
    e.end_step(out);  // prefill done, request 1 decoding
    submit(e, text, 1);
    REQUIRE(e.begin_step());
    CHECK(e.counters().prefix_cache_hits == 48);
}

TEST_CASE("LRU eviction: the least recently used cached prompt goes first") {
    EngineConfig c = small_config();
    c.kv_blocks = 12;
    Engine e(c);
    // Each 48-token prompt + 1 output uses 3 prompt blocks + 1 output block.
    const std::string a = text_of('a', 48), b = text_of('b', 48), d = text_of('d', 48);
    submit(e, a, 1);
    run(e);
    submit(e, b, 1);
    run(e);
    CHECK(e.kv().used_blocks() == 0);
    CHECK(e.kv().evictable() == 6);  // a and b cached (3 full blocks each)
    submit(e, a, 1);                 // touch a: b is now least recently used
    run(e);
    // Three new prompts of 4 blocks each: the 6 free blocks go first, then
    // evictions take a's uncached-tail twin and b's blocks, never a's head.
    for (const std::string& t : {d, text_of('e', 48), text_of('f', 48)}) {
        submit(e, t, 1);
        run(e);
    }
    CHECK(e.kv().evictions() > 0);
    const auto hits_before = e.counters().prefix_cache_hits;
    submit(e, a, 1);  // a survived (recently used)
    run(e);
    CHECK(e.counters().prefix_cache_hits - hits_before == 32);
    const auto hits_b = e.counters().prefix_cache_hits;
    submit(e, b, 1);  // b was evicted first
    run(e);
    CHECK(e.counters().prefix_cache_hits == hits_b);
}

TEST_CASE("KV cache: referenced blocks are pinned, unreferenced cached blocks evictable") {
    KvCache kv(4);
    const std::vector<std::uint64_t> hashes{11, 22};
    std::vector<BlockId> blocks;
    REQUIRE(kv.can_allocate(hashes, 0, 3));
    kv.allocate(hashes, 0, 3, blocks);
    kv.commit(blocks[0], 11);
    kv.commit(blocks[1], 22);
    CHECK(kv.used_blocks() == 3);
    CHECK(kv.lookup(hashes, 2) == 2);
    CHECK_FALSE(kv.can_allocate(hashes, 0, 2));  // only one block left
    kv.release(blocks);
    CHECK(kv.used_blocks() == 0);
    CHECK(kv.evictable() == 2);
    std::vector<BlockId> more;
    REQUIRE(kv.grow(3, more));  // 2 uncached free first, then evicts one
    CHECK(kv.evictions() == 1);
    CHECK(kv.lookup(hashes, 2) == 1);  // the tail block (22) went first
}

TEST_CASE("batch full: requests wait for a slot (max-num-seqs)") {
    EngineConfig c = small_config();
    c.max_num_seqs = 2;
    Engine e(c);
    for (int i = 0; i < 3; ++i) submit(e, text_of(char('a' + i), 10), 4);
    std::vector<Output> out;
    REQUIRE(e.begin_step());
    CHECK(e.num_running() == 2);
    CHECK(e.num_waiting() == 1);
    e.end_step(out);
    run(e);
    CHECK(e.counters().completed == 3);
    CHECK(e.num_waiting() == 0);
}

TEST_CASE("KV full: a request waits until blocks are freed") {
    EngineConfig c = small_config();
    c.kv_blocks = 10;
    Engine e(c);
    submit(e, text_of('a', 100), 2);  // 7 blocks + 1 for output = 8
    submit(e, text_of('b', 40), 2);   // 3 + 1 = 4: does not fit beside it
    REQUIRE(e.begin_step());
    CHECK(e.num_running() == 1);
    CHECK(e.num_waiting() == 1);
    CHECK(e.kv_usage() == doctest::Approx(0.8));
    std::vector<Output> out;
    e.end_step(out);
    run(e);
    CHECK(e.counters().completed == 2);
    CHECK(e.kv_usage() == 0.0);
}

TEST_CASE("submit rejects prompts that can never fit") {
    EngineConfig c = small_config();
    c.kv_blocks = 4;
    Engine e(c);
    RequestId id = 0;
    CHECK(e.submit(prompt_of(e, text_of('a', 60)), 10, id) == SubmitError::too_long);
    CHECK(e.submit(prompt_of(e, text_of('a', 10)), 5000, id) == SubmitError::too_long);
    CHECK(e.submit(prompt_of(e, ""), 5, id) == SubmitError::empty);
}

TEST_CASE("preemption: the newest running request goes back to waiting") {
    EngineConfig c = small_config();
    c.kv_blocks = 8;
    Engine e(c);
    submit(e, text_of('a', 16), 60);  // 1 + 1 blocks, grows to 5
    submit(e, text_of('b', 16), 60);
    run(e);
    CHECK(e.counters().preemptions > 0);
    CHECK(e.counters().completed == 2);
    CHECK(e.counters().generation_tokens == 120);
}

TEST_CASE("abort frees the batch slot and KV blocks") {
    EngineConfig c = small_config();
    c.max_num_seqs = 1;
    Engine e(c);
    const RequestId a = submit(e, text_of('a', 10), 100);
    submit(e, text_of('b', 10), 1);
    std::vector<Output> out;
    REQUIRE(e.begin_step());
    e.abort(a);  // during the step
    e.end_step(out);
    CHECK(out.empty());
    CHECK(e.num_running() == 0);
    CHECK(e.kv().used_blocks() == 0);
    run(e);
    CHECK(e.counters().completed == 1);
    CHECK(e.counters().aborted == 1);
}

TEST_CASE("hold keeps the last token until release, without engine work") {
    Engine e(small_config());
    e.set_hold(true);
    const RequestId id = submit(e, text_of('a', 10), 3);
    const auto events = run(e);
    REQUIRE(events.size() == 2);  // tokens 1 and 2; token 3 held
    CHECK(e.num_held() == 1);
    CHECK(e.num_running() == 1);
    CHECK_FALSE(e.begin_step());  // nothing to compute
    std::vector<Output> out;
    e.release(out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].id == id);
    CHECK(out[0].finished);
    CHECK(e.num_running() == 0);
    CHECK(e.counters().completed == 1);
}

TEST_CASE("determinism: same arrivals, same event times") {
    auto trace = [] {
        EngineConfig c = small_config();
        c.prefill_attn_ns_per_pair = 1.27;
        c.kv_blocks = 40;
        c.max_num_seqs = 3;
        Engine e(c);
        std::vector<Event> all;
        std::vector<Output> out;
        for (int i = 0; i < 12; ++i) {
            submit(e, text_of(char('a' + i % 4), 20 + 7 * i), 5 + i % 3);
            if (e.begin_step()) {
                e.end_step(out);
                for (const Output& o : out) all.push_back({e.now_us(), o.id, o.finished});
                out.clear();
            }
        }
        auto rest = run(e);
        all.insert(all.end(), rest.begin(), rest.end());
        return std::make_tuple(all, e.counters().prefix_cache_hits, e.counters().preemptions);
    };
    const auto first = trace();
    CHECK(std::get<0>(first).size() > 0);
    CHECK(first == trace());
}

TEST_CASE("LoRA: adapters of the running and waiting requests, distinct, base model left out") {
    EngineConfig c = small_config();
    c.loras = {"sql-lora", "chat-lora", "idle-lora"};
    c.max_num_seqs = 3;
    Engine e(c);
    std::vector<std::uint32_t> running, waiting;
    e.lora_adapters(running, waiting);
    CHECK(running.empty());
    CHECK(waiting.empty());
    const std::uint32_t loras[] = {1, 0, 1, 2, 1};  // sql, base, sql | chat, sql wait
    for (int i = 0; i < 5; ++i) {
        RequestId id = 0;
        REQUIRE(e.submit(prompt_of(e, text_of(char('a' + i), 10)), 4, id, loras[i]) == SubmitError::none);
    }
    e.lora_adapters(running, waiting);
    CHECK(running.empty());
    CHECK(waiting == std::vector<std::uint32_t>{1, 2});
    REQUIRE(e.begin_step());
    e.lora_adapters(running, waiting);
    CHECK(running == std::vector<std::uint32_t>{1});
    CHECK(waiting == std::vector<std::uint32_t>{2, 1});
    std::vector<Output> out;
    e.end_step(out);
    run(e);
    e.lora_adapters(running, waiting);
    CHECK(running.empty());
    CHECK(waiting.empty());
}

TEST_CASE("metrics: cache_config_info carries the KV capacity, as vLLM writes it") {
    EngineConfig c = small_config();
    c.block_size = 16;
    c.kv_blocks = 1234;
    Engine e(c);
    const std::string text = render_metrics(c, e, LoadOverride{}, 0);
    const size_t type = text.find("# TYPE vllm:cache_config_info gauge\n");
    CHECK(type != std::string::npos);
    CHECK(text.find("# TYPE vllm:cache_config_info gauge\n", type + 1) == std::string::npos);  // one family
    CHECK(text.find("vllm:cache_config_info{block_size=\"16\",cache_dtype=\"auto\",enable_prefix_caching=\"True\","
                    "engine=\"0\",gpu_memory_utilization=\"0.9\",kv_cache_size_tokens=\"19744\","
                    "num_cpu_blocks=\"0\",num_gpu_blocks=\"1234\"} 1.0\n") != std::string::npos);
}
