// LoRA: vllm:lora_requests_info extraction, the endpoint's adapter
// storage and its bound, and lora-affinity-scorer (table-driven, then
// through real YAML and a pool).
#include <doctest/doctest.h>

#include <set>

#include "config/loader.hpp"
#include "helpers.hpp"
#include "picker/builtin_plugins.hpp"
#include "picker/prom_text.hpp"

using namespace picker_test;
using namespace infergate::picker;
using infergate::config::Engine;

namespace {

const char* kCore = "vllm:num_requests_waiting 1\nvllm:num_requests_running 2\nvllm:kv_cache_usage_perc 0.5\n";

std::string info(const std::string& running, const std::string& waiting, const std::string& max, const char* value) {
    return "vllm:lora_requests_info{max_lora=\"" + max + "\",running_lora_adapters=\"" + running +
           "\",waiting_lora_adapters=\"" + waiting + "\"} " + value + "\n";
}

bool has(const std::array<uint64_t, LoraAdapters::kMaxAdapters>& list, uint32_t kept, const char* name) {
    for (uint32_t i = 0; i < kept; ++i)
        if (list[i] == adapter_hash(name)) return true;
    return false;
}

// LoraAdapters from names, as the extractor would build them.
LoraAdapters adapters(std::vector<std::string> running, std::vector<std::string> waiting, int64_t max_lora) {
    LoraAdapters l;
    for (const auto& n : running) l.add_running(n);
    for (const auto& n : waiting) l.add_waiting(n);
    l.max_lora = max_lora;
    return l;
}

}  // namespace

TEST_CASE("lora: extract_lora_adapters picks the newest series and splits its labels") {
    struct Row {
        std::string text;
        std::vector<std::string> running, waiting;  // exactly these, in this order
        int64_t max_lora;
    };
    const Row rows[] = {
        // No series at all: a vLLM without LoRA, or before any adapter.
        {"", {}, {}, 0},
        // One series, real vLLM shape.
        {info("sql-lora", "", "4", "1.7163867e+09"), {"sql-lora"}, {}, 4},
        // Several series: the largest value (the newest) wins, wherever it is.
        {info("a", "", "2", "1.7e9") + info("b,c", "d", "2", "1.9e9") + info("e", "", "2", "1.8e9"),
         {"b", "c"}, {"d"}, 2},
        // Equal values: the first in the input wins (strictly greater).
        {info("first", "", "1", "5") + info("second", "", "1", "5"), {"first"}, {}, 1},
        // A value not above -1, or NaN, never wins.
        {info("neg", "", "1", "-1") + info("nan", "", "1", "NaN"), {}, {}, 0},
        {info("neg", "", "1", "-2") + info("zero", "", "3", "0"), {"zero"}, {}, 3},
        // White space around names trimmed, empty names skipped, duplicates once.
        {info(" a , ,b,a,", "c,,  ", "8", "1"), {"a", "b"}, {"c"}, 8},
        // max_lora not an integer, negative or empty: 0.
        {info("a", "", "x", "1"), {"a"}, {}, 0},
        {info("a", "", "-3", "1"), {"a"}, {}, 0},
        {info("a", "", "", "1"), {"a"}, {}, 0},
        // Another metric with lora-ish labels is not it.
        {"vllm:lora_other{running_lora_adapters=\"a\",max_lora=\"1\"} 9\n", {}, {}, 0},
    };
    for (const Row& r : rows) {
        CAPTURE(r.text);
        const LoraAdapters l = extract_lora_adapters(parse_prometheus_text(r.text));
        CHECK(l.max_lora == r.max_lora);
        REQUIRE(l.running_kept == r.running.size());
        REQUIRE(l.waiting_kept == r.waiting.size());
        CHECK(l.running_count == r.running.size());
        CHECK(l.waiting_count == r.waiting.size());
        for (size_t i = 0; i < r.running.size(); ++i) CHECK(l.running[i] == adapter_hash(r.running[i]));
        for (size_t i = 0; i < r.waiting.size(); ++i) CHECK(l.waiting[i] == adapter_hash(r.waiting[i]));
    }
}

TEST_CASE("lora: extract_engine_metrics carries the adapters for vLLM only") {
    const std::string text = std::string(kCore) + info("a,b", "c", "4", "1.7e9") +
                             "sglang:num_queue_reqs 1\nsglang:num_running_reqs 2\nsglang:token_usage 0.5\n";
    const auto parsed = parse_prometheus_text(text);
    const auto v = extract_engine_metrics(parsed, Engine::vllm);
    REQUIRE(v);
    CHECK(v->lora.running_count == 2);
    CHECK(has(v->lora.running, v->lora.running_kept, "b"));
    CHECK(has(v->lora.waiting, v->lora.waiting_kept, "c"));
    CHECK(v->lora.max_lora == 4);
    // The reference's sglang mapping has no LoRA spec.
    const auto s = extract_engine_metrics(parsed, Engine::sglang);
    REQUIRE(s);
    CHECK(s->lora.running_count == 0);
    CHECK(s->lora.max_lora == 0);
    // The LoRA metric is optional: its absence does not fail the scrape.
    CHECK(extract_engine_metrics(parse_prometheus_text(kCore), Engine::vllm));
}

TEST_CASE("lora: the endpoint keeps kMaxAdapters per list and counts the rest") {
    constexpr uint32_t kMax = LoraAdapters::kMaxAdapters;
    std::string running;
    for (uint32_t i = 0; i < kMax + 4; ++i) running += (i ? ",r" : "r") + std::to_string(i);
    const LoraAdapters l = extract_lora_adapters(parse_prometheus_text(info(running, "w0", "64", "1")));
    CHECK(l.running_kept == kMax);
    CHECK(l.running_count == kMax + 4);

    auto ep = endpoint("10.0.0.1", 8000);
    ep->publish(EngineMetrics{0, 0, 0, l}, Clock::now());
    const auto first = ep->lora_status(adapter_hash("r0"));
    CHECK(first.running);
    CHECK_FALSE(first.waiting);
    CHECK(first.adapters == kMax + 4 + 1);
    CHECK(first.max_lora == 64);
    CHECK(ep->lora_status(adapter_hash("r" + std::to_string(kMax - 1))).running);
    // Beyond the bound: counted, not recognised.
    CHECK_FALSE(ep->lora_status(adapter_hash("r" + std::to_string(kMax))).running);
    CHECK(ep->lora_status(adapter_hash("w0")).waiting);
    const auto copy = ep->metrics().lora;
    CHECK(copy.running_kept == kMax);
    CHECK(copy.running[3] == adapter_hash("r3"));
    CHECK(copy.waiting_count == 1);

    // A later scrape replaces the lists: nothing of the old one remains.
    ep->publish(EngineMetrics{0, 0, 0, adapters({"x"}, {}, 2)}, Clock::now());
    CHECK_FALSE(ep->lora_status(adapter_hash("r0")).running);
    CHECK_FALSE(ep->lora_status(adapter_hash("w0")).waiting);
    CHECK(ep->lora_status(adapter_hash("x")).running);
    CHECK(ep->lora_status(adapter_hash("x")).adapters == 1);
    // A scrape without the LoRA metric clears them too.
    ep->publish(EngineMetrics{}, Clock::now());
    CHECK_FALSE(ep->lora_status(adapter_hash("x")).running);
    CHECK(ep->lora_status(adapter_hash("x")).max_lora == 0);
}

TEST_CASE("lora-affinity-scorer: running 1, room 0.8, waiting 0.6, else 0") {
    struct Ep {
        bool published;  // false: never scraped (default state)
        std::vector<std::string> running, waiting;
        int64_t max_lora;
    };
    struct Row {
        const char* name;
        const char* model;
        std::vector<Ep> eps;
        std::vector<double> want;
    };
    const Row rows[] = {
        {"running wins over everything", "a",
         {{true, {"a"}, {}, 4}, {true, {"a", "b"}, {}, 2}, {true, {"a"}, {"a"}, 1}}, {1.0, 1.0, 1.0}},
        {"room to load when not running", "a", {{true, {"b"}, {}, 4}, {true, {}, {}, 1}}, {0.8, 0.8}},
        {"waiting with room counts as room (the reference's order)", "a", {{true, {"b"}, {"a"}, 4}}, {0.8}},
        {"waiting on a full server", "a", {{true, {"b"}, {"a"}, 2}}, {0.6}},
        {"full server, adapter nowhere", "a", {{true, {"b", "c"}, {}, 2}, {true, {"b"}, {"c"}, 2}}, {0.0, 0.0}},
        {"max_lora reached by running and waiting together", "z", {{true, {"b"}, {"c", "d"}, 3}}, {0.0}},
        {"unknown adapter, room on one only", "zz", {{true, {"b"}, {}, 2}, {true, {"b", "c"}, {}, 2}}, {0.8, 0.0}},
        {"endpoint without the LoRA metric", "a", {{true, {}, {}, 0}, {true, {"a"}, {}, 1}}, {0.0, 1.0}},
        {"no metrics yet", "a", {{false, {}, {}, 0}, {true, {}, {}, 1}}, {0.0, 0.8}},
        {"base model on LoRA-less endpoints: a tie at 0", "base", {{true, {}, {}, 0}, {true, {}, {}, 0}}, {0.0, 0.0}},
        {"ties: two endpoints running it", "a", {{true, {"a"}, {}, 1}, {true, {"a"}, {"b"}, 1}}, {1.0, 1.0}},
        {"empty model", "", {{true, {"a"}, {}, 1}, {true, {}, {}, 2}}, {0.0, 0.8}},
    };
    const LoraAffinityScorer scorer("lora-affinity-scorer");
    for (const Row& r : rows) {
        CAPTURE(r.name);
        std::vector<std::shared_ptr<EndpointState>> owned;
        std::vector<EndpointState*> ptrs;
        for (size_t i = 0; i < r.eps.size(); ++i) {
            owned.push_back(endpoint("10.0.0." + std::to_string(i + 1), 8000));
            ptrs.push_back(owned.back().get());
            const Ep& e = r.eps[i];
            if (e.published)
                owned.back()->publish(EngineMetrics{0, 0, 0, adapters(e.running, e.waiting, e.max_lora)}, Clock::now());
        }
        std::vector<double> out(ptrs.size(), -1.0);
        SchedulingRequest req;
        req.model = r.model;
        scorer.score(req, ptrs, out);
        REQUIRE(out.size() == r.want.size());
        for (size_t i = 0; i < out.size(); ++i) {
            CAPTURE(i);
            CHECK(out[i] == doctest::Approx(r.want[i]));
        }
    }
}

namespace {

// A pool of three vLLM replicas scheduled by lora-affinity-scorer alone.
std::string lora_config(const std::string& scorer_params) {
    return R"(listeners:
  - name: main
    address: 127.0.0.1:0
routes:
  - name: all
    backends:
      - pool: p
pools:
  - name: p
    endpoints:
      - address: 127.0.0.1:8001
      - address: 127.0.0.1:8002
      - address: 127.0.0.1:8003
    scheduler:
      plugins:
        - type: lora-affinity-scorer
)" + scorer_params + R"(        - type: max-score-picker
)";
}

}  // namespace

TEST_CASE("lora-affinity-scorer through YAML: requests land on the replica running their adapter") {
    auto loaded = infergate::config::load_config_string(lora_config(""), "infergate.yaml");
    for (const auto& e : loaded.errors) FAIL_CHECK(e.to_string());
    REQUIRE(loaded.ok());
    auto built = build_scheduler(loaded.config->pools.at(0).scheduler);
    REQUIRE(built.scheduler);
    std::vector<std::shared_ptr<EndpointState>> eps;
    const auto now = Clock::now();
    const std::string scrapes[] = {
        std::string(kCore) + info("sql-lora", "", "1", "1.7e9"),
        std::string(kCore) + info("chat-lora", "sql-lora", "1", "1.7e9"),
        std::string(kCore),  // base model only
    };
    for (size_t i = 0; i < 3; ++i) {
        eps.push_back(std::make_shared<EndpointState>("p", loaded.config->pools[0].endpoints[i]));
        auto m = extract_engine_metrics(parse_prometheus_text(scrapes[i]), Engine::vllm);
        REQUIRE(m);
        eps.back()->publish(*m, now);
    }
    PoolPicker pool("p", eps, built.scheduler, std::chrono::milliseconds(200),
                    infergate::config::FailureMode::fail_open);
    PickScratch scratch;
    auto picks = [&](std::string_view model) {
        std::set<std::string> seen;
        SchedulingRequest req;
        req.model = model;
        for (int i = 0; i < 200; ++i) {
            auto r = pool.pick(req, now, nullptr, scratch);
            REQUIRE(r.status == PickResult::Status::ok);
            seen.insert(r.endpoint->id());
        }
        return seen;
    };
    CHECK(picks("sql-lora") == std::set<std::string>{"127.0.0.1:8001"});
    CHECK(picks("chat-lora") == std::set<std::string>{"127.0.0.1:8002"});
    // Nobody runs it, and both LoRA servers are full: every endpoint
    // scores 0, so the tie spreads over all three.
    CHECK(picks("new-lora") == std::set<std::string>{"127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"});
}

TEST_CASE("lora-affinity-scorer takes no parameters") {
    auto loaded = infergate::config::load_config_string(
        lora_config("          parameters:\n            weight: 2\n"), "infergate.yaml");
    REQUIRE(loaded.ok());
    auto built = build_scheduler(loaded.config->pools.at(0).scheduler);
    CHECK_FALSE(built.scheduler);
    REQUIRE(built.errors.size() == 1);
    CHECK(built.errors[0].to_string() ==
          "infergate.yaml:18:13: unknown parameter 'weight' for plugin 'lora-affinity-scorer' "
          "(type 'lora-affinity-scorer'); it takes no parameters");
}
