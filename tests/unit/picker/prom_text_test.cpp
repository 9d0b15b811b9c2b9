// Prometheus text parsing and engine-metric extraction.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>

#include "helpers.hpp"
#include "picker/prom_text.hpp"

using namespace picker_test;
using infergate::config::Engine;
using infergate::picker::extract_engine_metrics;
using infergate::picker::parse_prometheus_text;

TEST_CASE("prom_text: real vLLM V1 output, two data-parallel ranks") {
    const auto parsed = parse_prometheus_text(read_data("vllm_v1_dp.txt"));
    const auto* s = parsed.find("vllm:num_requests_running");
    REQUIRE(s);
    CHECK(s->value == 30.0);
    REQUIRE(s->labels.size() == 2);
    CHECK(s->labels[0] == std::pair<std::string, std::string>{"engine", "0"});
    CHECK(s->labels[1].second == "Qwen/Qwen3-VL-30B-A3B-Instruct-FP8");
    CHECK(parsed.find("process_virtual_memory_bytes")->value == 1.21264953344e+11);
    CHECK(parsed.find("vllm:prefix_cache_queries_created")->value == doctest::Approx(1.7599512513358457e+09));
    const auto* info = parsed.find("vllm:cache_config_info");
    REQUIRE(info);
    CHECK(info->labels.size() == 5);
    // +Inf as a label value is text; as a value it is infinity (below).
    bool saw_inf_bucket = false;
    for (const auto& x : parsed.samples)
        for (const auto& [k, v] : x.labels) saw_inf_bucket |= (k == "le" && v == "+Inf");
    CHECK(saw_inf_bucket);
    CHECK(parsed.samples.size() == 27);

    const auto m = extract_engine_metrics(parsed, Engine::vllm);
    REQUIRE(m);
    CHECK(m->waiting == 7.0);                             // 4 + 3: ranks add up
    CHECK(m->running == 58.0);                            // 30 + 28
    CHECK(m->kv_usage == doctest::Approx(0.4508602));     // the fullest rank
}

TEST_CASE("prom_text: vLLM V0 output falls back to gpu_cache_usage_perc") {
    const auto parsed = parse_prometheus_text(read_data("vllm_v0.txt"));
    CHECK(parsed.find("vllm:kv_cache_usage_perc") == nullptr);
    const auto m = extract_engine_metrics(parsed, Engine::vllm);
    REQUIRE(m);
    CHECK(m->waiting == 2.0);
    CHECK(m->running == 7.0);
    CHECK(m->kv_usage == doctest::Approx(0.8123));
    // The same text is not an SGLang server.
    CHECK_FALSE(extract_engine_metrics(parsed, Engine::sglang));
}

TEST_CASE("prom_text: SGLang output") {
    const auto parsed = parse_prometheus_text(read_data("sglang.txt"));
    const auto m = extract_engine_metrics(parsed, Engine::sglang);
    REQUIRE(m);
    CHECK(m->waiting == 5.0);
    CHECK(m->running == 12.0);
    CHECK(m->kv_usage == doctest::Approx(0.28));
    CHECK_FALSE(extract_engine_metrics(parsed, Engine::vllm));
}

TEST_CASE("prom_text: line grammar") {
    const double inf = std::numeric_limits<double>::infinity();
    struct Row {
        const char* line;
        bool kept;
        double value;
    };
    const Row rows[] = {
        {"a 1", true, 1},
        {"a_b:c 2.5", true, 2.5},
        {":colon_first 3", true, 3},
        {"a{} 4", true, 4},
        {"a{x=\"y\"} 5", true, 5},
        {"a{x=\"y\",} 6", true, 6},                   // trailing comma
        {"a { x = \"y\" , z=\"w\" } 7", true, 7},       // blanks inside braces
        {"a 1e3", true, 1000},
        {"a -1.5E-2", true, -0.015},
        {"a +Inf", true, inf},
        {"a -Inf", true, -inf},
        {"a 8 1700000000000", true, 8},               // timestamp ignored
        {"a 9 -5", true, 9},                          // negative timestamp
        {"  \ta 10  ", true, 10},                     // leading/trailing blanks
        {"a 11\r", true, 11},                         // CRLF line ends
        {"# HELP a help text", false, 0},
        {"# TYPE a gauge", false, 0},
        {"#a 1", false, 0},
        {"", false, 0},
        {"   ", false, 0},
        {"a", false, 0},                              // no value
        {"a{x=\"y\"}", false, 0},
        {"a{x=\"y\"}12", false, 0},                   // no blank before value
        {"1a 1", false, 0},                           // name starts with a digit
        {"a{1x=\"y\"} 1", false, 0},                  // bad label name
        {"a{x:y=\"z\"} 1", false, 0},                 // ':' not allowed in label names
        {"a{x=y} 1", false, 0},                       // unquoted value
        {"a{x=\"y} 1", false, 0},                     // unterminated value
        {"a{x=\"y\" 1", false, 0},                    // unterminated braces
        {"a{x=\"\\q\"} 1", false, 0},                 // unknown escape
        {"a 1x", false, 0},
        {"a 1 2 3", false, 0},
        {"a 1 1.5", false, 0},                        // timestamp must be an integer
        {"a 1e999", false, 0},                        // out of range
        {"a ++1", false, 0},
        {"a -", false, 0},
        {"a 0x10", false, 0},
        {"garbage line with words", false, 0},
    };
    for (const Row& r : rows) {
        CAPTURE(r.line);
        const auto p = parse_prometheus_text(r.line);
        REQUIRE(p.samples.size() == (r.kept ? 1u : 0u));
        if (r.kept) CHECK(p.samples[0].value == r.value);
    }
}

TEST_CASE("prom_text: NaN, escapes and mixed garbage") {
    const auto p = parse_prometheus_text(
        "x NaN\n"
        "garbage{\n"
        "y{path=\"C:\\\\models\\\\m\",q=\"say \\\"hi\\\"\",nl=\"a\\nb\"} 2\n"
        "}}}} 3\n"
        "z nan\n");
    REQUIRE(p.samples.size() == 3);
    CHECK(std::isnan(p.samples[0].value));
    CHECK(p.samples[1].labels[0].second == "C:\\models\\m");
    CHECK(p.samples[1].labels[1].second == "say \"hi\"");
    CHECK(p.samples[1].labels[2].second == "a\nb");
    CHECK(p.samples[2].name == "z");
    CHECK(std::isnan(p.samples[2].value));
}

TEST_CASE("prom_text: truncated input never reads past the end") {
    // Every prefix of a real scrape parses without error; a cut line is
    // either a valid shorter sample or dropped.
    const std::string text = read_data("vllm_v1_dp.txt");
    for (size_t n = 0; n <= text.size(); n += 7) {
        const std::string cut = text.substr(0, n);  // own buffer: ASan sees overreads
        const auto p = parse_prometheus_text(cut);
        CHECK(p.samples.size() <= 27u);
    }
    const auto p = parse_prometheus_text(text.substr(0, text.find("vllm:kv_cache_usage_perc{engine=\"1\"")));
    const auto m = extract_engine_metrics(p, Engine::vllm);
    REQUIRE(m);  // only rank 0's kv line survived the cut
    CHECK(m->kv_usage == doctest::Approx(0.4508602));
    // Binary junk with NULs.
    const std::string junk("a\0b 1\n\xff\xfe{ 2\nc 3", 15);
    const auto j = parse_prometheus_text(junk);
    REQUIRE(j.samples.size() == 1);
    CHECK(j.samples[0].name == "c");
}

TEST_CASE("prom_text: missing or non-finite metrics give no EngineMetrics") {
    struct Row {
        const char* text;
        bool ok;
    };
    const Row rows[] = {
        {"vllm:num_requests_waiting 1\nvllm:num_requests_running 2\nvllm:kv_cache_usage_perc 0.5\n", true},
        {"vllm:num_requests_running 2\nvllm:kv_cache_usage_perc 0.5\n", false},      // no waiting
        {"vllm:num_requests_waiting 1\nvllm:kv_cache_usage_perc 0.5\n", false},      // no running
        {"vllm:num_requests_waiting 1\nvllm:num_requests_running 2\n", false},       // no usage
        {"vllm:num_requests_waiting NaN\nvllm:num_requests_running 2\nvllm:kv_cache_usage_perc 0.5\n", false},
        {"vllm:num_requests_waiting 1\nvllm:num_requests_running +Inf\nvllm:kv_cache_usage_perc 0.5\n", false},
        {"vllm:num_requests_waiting{m=\"a\"} 1\nvllm:num_requests_waiting{m=\"b\"} -Inf\n"
         "vllm:num_requests_running 2\nvllm:kv_cache_usage_perc 0.5\n", false},
        // kv_cache_usage_perc wins over the deprecated name when both exist.
        {"vllm:num_requests_waiting 1\nvllm:num_requests_running 2\nvllm:gpu_cache_usage_perc NaN\n"
         "vllm:kv_cache_usage_perc 0.5\n", true},
        {"", false},
    };
    for (const Row& r : rows) {
        CAPTURE(r.text);
        CHECK(extract_engine_metrics(parse_prometheus_text(r.text), Engine::vllm).has_value() == r.ok);
    }
}

TEST_CASE("prom_text: random bytes from the format's alphabet never crash") {
    // A cheap stand-in for the fuzz target to come: short lines made of the
    // characters the grammar cares about, under ASan in the sanitizer build.
    static constexpr char alphabet[] = "ab:_{}=\",\\n\" 01.eE+-InfNa#\t\r\n\\";
    std::minstd_rand rng(2024);
    std::uniform_int_distribution<size_t> pick(0, sizeof(alphabet) - 2), len(0, 40);
    size_t kept = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string s(len(rng), ' ');
        for (char& ch : s) ch = alphabet[pick(rng)];
        const auto p = parse_prometheus_text(s);
        for (const auto& x : p.samples) CHECK_FALSE(x.name.empty());
        kept += p.samples.size();
    }
    CHECK(kept > 0);  // some random lines are valid samples
}
