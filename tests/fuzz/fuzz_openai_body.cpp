// Fuzz target for the OpenAI body extraction (proxy/openai_body.hpp).
//
// Checks, besides memory safety: parsing leaves the body's bytes alone;
// on success the model token is a JSON string inside the body, and
// rewriting it to other names changes only that token and parses back to
// the new name with every other field unchanged; json_quote of any valid
// UTF-8 string parses back to that string; add_include_usage either
// leaves the body alone or yields a body that parses with include_usage
// true and every other field unchanged.
#include <simdjson.h>

#include <string>
#include <string_view>
#include <vector>

#include "proxy/openai_body.hpp"
#include "tests/fuzz/fuzz_driver.hpp"

using namespace infergate::proxy;
using E = OpenAiFields::Error;

namespace {

void check_rewrite(const std::string& body, const OpenAiFields& f, std::string_view name) {
    std::string out = body;
    rewrite_model(out, f, name);
    std::string quoted = json_quote(name);
    FUZZ_CHECK(out.size() == body.size() - f.model_len + quoted.size());
    FUZZ_CHECK(out.compare(0, f.model_pos, body, 0, f.model_pos) == 0);
    FUZZ_CHECK(out.compare(f.model_pos, quoted.size(), quoted) == 0);
    FUZZ_CHECK(out.compare(f.model_pos + quoted.size(), std::string::npos, body,
                           f.model_pos + f.model_len) == 0);
    OpenAiFields g = parse_openai_body(out);
    FUZZ_CHECK(g.error == E::none);
    FUZZ_CHECK(g.model == name);
    FUZZ_CHECK(g.stream == f.stream);
    FUZZ_CHECK(g.user == f.user);
    FUZZ_CHECK(g.has_prompt == f.has_prompt);
    FUZZ_CHECK(g.has_messages == f.has_messages);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string original(reinterpret_cast<const char*>(data), size);
    std::string body = original;
    OpenAiFields f = parse_openai_body(body);
    FUZZ_CHECK(body == original);
    FUZZ_CHECK(!describe(f.error).empty());
    if (f.error == E::none) {
        FUZZ_CHECK(f.model_len >= 2);
        FUZZ_CHECK(f.model_pos + f.model_len <= body.size());
        FUZZ_CHECK(body[f.model_pos] == '"');
        FUZZ_CHECK(body[f.model_pos + f.model_len - 1] == '"');
        // The token alone decodes to the model.
        std::string alone = "{\"model\":" + body.substr(f.model_pos, f.model_len) + "}";
        OpenAiFields a = parse_openai_body(alone);
        FUZZ_CHECK(a.error == E::none);
        FUZZ_CHECK(a.model == f.model);
        check_rewrite(body, f, "llama-3.1-8b-v2");
        check_rewrite(body, f, "");
        check_rewrite(body, f, std::string_view("q\"\\\n\x01\x1f\0caf\xc3\xa9", 12));
        std::string u = body;
        if (add_include_usage(u)) {
            OpenAiFields g = parse_openai_body(u);
            FUZZ_CHECK(g.error == E::none);
            FUZZ_CHECK(g.include_usage);
            FUZZ_CHECK(g.model == f.model);
            FUZZ_CHECK(g.stream == f.stream);
            FUZZ_CHECK(g.user == f.user);
        } else {
            FUZZ_CHECK(u == body);
        }
    }
    if (simdjson::validate_utf8(original.data(), original.size())) {
        std::string q = "{\"model\":" + json_quote(original) + "}";
        OpenAiFields g = parse_openai_body(q);
        FUZZ_CHECK(g.error == E::none);
        FUZZ_CHECK(g.model == original);
    }
    return 0;
}

namespace infergate::fuzz {

std::vector<std::string> seed_corpus() {
    return {
        R"({"model":"llama-3.1-8b","messages":[{"role":"user","content":"hi \"there\""}],"stream":true})",
        R"({"prompt":"once upon","model":"m","max_tokens":16,"user":"u-1","stream":false})",
        " {\n  \"model\" : \"mo\\\"del\\u00e9\" ,\n  \"n\": [1, 2.5e3, -0, null, true, {}]\n}\n",
        R"({"messages":[{"model":"inner","content":[{"type":"text","text":"x"}]}],"model":"outer"})",
        R"({"model":"\ud83d\ude00","logit_bias":{"50256":-100},"stop":["\n"]})",
        R"({"model":"a","model":"b"})",
        R"({"model":"m","stream":true,"stream_options":{"include_usage":false,"x":[1]}})",
        R"({"model":"m","stream_options":null,"stream_options":{}})",
        R"(["model","a"])",
        R"({"model":1})",
        "{}",
    };
}

std::vector<std::string> dictionary() {
    return {"{", "}", "[", "]", ":", ",", "\"", "\\", "\\\"", "\\u", "\\u0000", "\\ud800", "\"model\"",
            "\"model\":", "\"stream\":true", "\"user\":\"u\"", "\"messages\":[]", "\"prompt\":\"p\"",
            "\"stream_options\":", "\"include_usage\":", "{\"include_usage\":true}",
            "null", "true", "false", "1e999", "-0.0", " ", "\n", "\xc3\xa9", "\xff", "\xed\xa0\x80"};
}

}  // namespace infergate::fuzz
