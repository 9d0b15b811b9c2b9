// Unit tests of infergate-sim's request parsing (untrusted bytes), control
// bodies, response shapes and metrics number formatting.
#include <doctest/doctest.h>

#include <string>

#include <simdjson.h>

#include "bench/sim/control.hpp"
#include "bench/sim/metrics.hpp"
#include "bench/sim/openai.hpp"

using namespace infergate::sim;

namespace {

std::string padded(std::string s) {
    s.reserve(s.size() + simdjson::SIMDJSON_PADDING);
    return s;
}

bool parse(Api api, const std::string& body, CompletionRequest& out, std::string& error) {
    return parse_completion_request(api, padded(body), out, error);
}

}  // namespace

TEST_CASE("completions: fields read, others ignored") {
    CompletionRequest r;
    std::string err;
    REQUIRE(parse(Api::completions,
                  R"({"model":"m","prompt":"hello","max_tokens":7,"stream":true,)"
                  R"("stream_options":{"include_usage":true},"temperature":0.5,"ignore_eos":true})",
                  r, err));
    CHECK(r.model == "m");
    CHECK(r.prompt == "hello");
    CHECK(r.max_tokens == 7u);
    CHECK(r.stream);
    CHECK(r.include_usage);

    CompletionRequest a;
    REQUIRE(parse(Api::completions, R"({"prompt":["ab","cd"],"max_completion_tokens":3})", a, err));
    CHECK(a.prompt == "abcd");
    CHECK(a.model.empty());
    CHECK(a.max_tokens == 3u);
    CHECK_FALSE(a.stream);

    CompletionRequest n;
    REQUIRE(parse(Api::completions, R"({"prompt":"x","max_tokens":null,"stream_options":null})", n, err));
    CHECK_FALSE(n.max_tokens.has_value());
}

TEST_CASE("chat: messages rendered, text parts concatenated") {
    CompletionRequest r;
    std::string err;
    REQUIRE(parse(Api::chat,
                  R"({"messages":[{"role":"system","content":"s"},)"
                  R"({"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{}},{"type":"text","text":"b"}]}]})",
                  r, err));
    CHECK(r.prompt == "<|system|>\ns\n<|user|>\nab\n<|assistant|>\n");
}

TEST_CASE("malformed requests are rejected with a message, never thrown") {
    const char* bad_completions[] = {
        "", "[]", "nope", R"({"prompt":"x"} trailing)", R"({"prompt":1})", R"({"prompt":[1,2]})",
        R"({"max_tokens":3})", R"({"prompt":""})", R"({"prompt":"x","max_tokens":0})",
        R"({"prompt":"x","max_tokens":-5})", R"({"prompt":"x","max_tokens":"3"})",
        R"({"prompt":"x","stream":"yes"})", R"({"prompt":"x","model":7})", R"({"prompt":"x",)",
        R"({"prompt":"x","stream_options":5})", "{\"prompt\":\"\\ud800\"}",
    };
    for (const char* body : bad_completions) {
        CompletionRequest r;
        std::string err;
        CHECK_MESSAGE(!parse(Api::completions, body, r, err), body);
        CHECK_MESSAGE(!err.empty(), body);
    }
    const char* bad_chat[] = {
        R"({"messages":[]})", R"({"messages":{}})", R"({"messages":[{"content":"x"}]})",
        R"({"messages":[{"role":"user","content":5}]})", R"({"messages":["x"]})",
        R"({"prompt":"x"})",
    };
    for (const char* body : bad_chat) {
        CompletionRequest r;
        std::string err;
        CHECK_MESSAGE(!parse(Api::chat, body, r, err), body);
    }
}

TEST_CASE("response bodies and events") {
    const ResponseMeta m{Api::chat, make_response_id(Api::chat, 1, 1), 1700000000, "m\"x"};
    CHECK(m.id.starts_with("chatcmpl-"));
    CHECK(m.id.size() == 9 + 32);
    CHECK(make_response_id(Api::completions, 1, 1).starts_with("cmpl-"));
    const std::string ev = stream_event(m, "hi", true);
    CHECK(ev.starts_with("data: {"));
    CHECK(ev.ends_with("}\n\n"));
    CHECK(ev.find(R"("delta":{"content":"hi"})") != std::string::npos);
    CHECK(ev.find(R"("finish_reason":"length")") != std::string::npos);
    CHECK(ev.find(R"("model":"m\"x")") != std::string::npos);
    CHECK(usage_event(m, {3, 2}).find(R"("choices":[],"usage":{"prompt_tokens":3,"total_tokens":5,"completion_tokens":2})") !=
          std::string::npos);
    CHECK(error_body("bad \"x\"", "invalid_request_error", 400) ==
          R"({"error":{"message":"bad \"x\"","type":"invalid_request_error","param":null,"code":400}})");
    // Every body is valid JSON.
    simdjson::dom::parser p;
    simdjson::dom::element el;
    CHECK(p.parse(completion_body(m, "a b", {1, 2})).get(el) == simdjson::SUCCESS);
    CHECK(p.parse(ev.substr(6)).get(el) == simdjson::SUCCESS);
    CHECK(p.parse(role_event(m).substr(6)).get(el) == simdjson::SUCCESS);
}

TEST_CASE("prometheus numbers formatted like prometheus_client") {
    CHECK(prom_number(0) == "0.0");
    CHECK(prom_number(1) == "1.0");
    CHECK(prom_number(0.5) == "0.5");
    CHECK(prom_number(26300) == "26300.0");
    CHECK(prom_number(1786910601.1177013) == "1.7869106011177013e+09");
    CHECK(prom_number(10931263819.0) == "1.0931263819e+10");
}

TEST_CASE("control bodies") {
    std::string err;
    bool hold = false;
    CHECK(parse_hold(padded(R"({"hold":true})"), hold, err));
    CHECK(hold);
    CHECK_FALSE(parse_hold(padded("{}"), hold, err));
    CHECK_FALSE(parse_hold(padded(R"({"hold":1})"), hold, err));

    LoadOverride load;
    REQUIRE(parse_load(padded(R"({"waiting":3,"running":2,"kv_usage":0.5})"), load, err));
    CHECK(load.waiting == 3);
    CHECK(load.running == 2);
    CHECK(load.kv_usage == 0.5);
    REQUIRE(parse_load(padded("{}"), load, err));
    CHECK(load.waiting == 0);
    CHECK_FALSE(load.kv_usage.has_value());
    CHECK_FALSE(parse_load(padded(R"({"kv_usage":2})"), load, err));
    CHECK_FALSE(parse_load(padded(R"({"waiting":-1})"), load, err));

    std::uint32_t ms = 7;
    REQUIRE(parse_delay(padded(""), ms, err));
    CHECK(ms == 0);
    REQUIRE(parse_delay(padded(R"({"response_header_ms":250})"), ms, err));
    CHECK(ms == 250);
    CHECK_FALSE(parse_delay(padded("[1]"), ms, err));
}

TEST_CASE("/sim/stats body: engine counters and per-model requests") {
    const std::string models[] = {"food-v1", "food \"v2\""};
    const std::uint64_t counts[] = {7, 3};
    const SimStats s{10, 1, 2, 0, 9, 4, 5, models, counts, TlsCounters{6, 8, 1}};
    CHECK(stats_body(s) ==
          R"({"requests":10,"running":1,"waiting":2,"held":0,"completed":9,"prefix_cache_hits":4,)"
          R"("prefix_cache_queries":5,"tls_handshakes":{"full":6,"resumed":8,"failed":1},)"
          R"("models":{"food-v1":7,"food \"v2\"":3}})");
    const SimStats none{0, 0, 0, 0, 0, 0, 0, {}, {}, {}};
    CHECK(stats_body(none).ends_with(R"("models":{}})"));
}
