// parse_openai_body, rewrite_model and json_quote.
#include <doctest/doctest.h>

#include <string>

#include "proxy/openai_body.hpp"

using namespace infergate::proxy;
using E = OpenAiFields::Error;

namespace {

OpenAiFields parse(std::string body) { return parse_openai_body(body); }

}  // namespace

TEST_CASE("fields are extracted from the top-level object") {
    struct Case {
        std::string body;
        std::string model, user;
        bool stream, prompt, messages;
    };
    const Case cases[] = {
        {R"({"model":"llama"})", "llama", "", false, false, false},
        {R"({"model":"llama","stream":true,"user":"u-1","prompt":"hi"})", "llama", "u-1", true, true, false},
        {R"({"messages":[{"role":"user","content":"x"}],"model":"gpt","stream":false})", "gpt", "", false, false, true},
        {" \n{ \"model\" : \"m\" , \"stream\" : true }\n ", "m", "", true, false, false},
        // Nested "model" keys belong to other objects.
        {R"({"messages":[{"model":"inner"}],"model":"outer","meta":{"model":"x","user":"y"}})", "outer", "", false, false, true},
        // Escapes are decoded.
        {R"({"model":"mo\"del"})", "mo\"del", "", false, false, false},
        {R"({"model":"caf\u00e9 \u2603 \ud83d\ude00"})", "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80", "", false, false, false},
        {R"({"model":"a\\b\/c\n"})", "a\\b/c\n", "", false, false, false},
        {R"({"mod\u0065l":"k"})", "k", "", false, false, false},
        // Values of the wrong type are ignored for optional fields.
        {R"({"model":"m","stream":"yes","user":7,"prompt":null})", "m", "", false, true, false},
        {R"({"model":""})", "", "", false, false, false},
    };
    for (const Case& c : cases) {
        CAPTURE(c.body);
        OpenAiFields f = parse(c.body);
        CHECK(f.error == E::none);
        CHECK(f.model == c.model);
        CHECK(f.user == c.user);
        CHECK(f.stream == c.stream);
        CHECK(f.has_prompt == c.prompt);
        CHECK(f.has_messages == c.messages);
        // The token found is the model's JSON string, quotes included.
        REQUIRE(f.model_pos + f.model_len <= c.body.size());
        REQUIRE(f.model_len >= 2);
        CHECK(c.body[f.model_pos] == '"');
        CHECK(c.body[f.model_pos + f.model_len - 1] == '"');
    }
}

TEST_CASE("bad bodies are refused with the right error") {
    struct Case {
        std::string body;
        E error;
    };
    const Case cases[] = {
        {"", E::not_json},
        {"   ", E::not_json},
        {"model=llama", E::not_json},
        {"{", E::not_json},
        {R"({"model":"a")", E::not_json},
        {R"({"model":"a",)", E::not_json},
        {R"({"model":"a)", E::not_json},
        {R"({"model" "a"})", E::not_json},
        {R"({"model":"a"} x)", E::not_json},
        {R"({"model":"a"}{})", E::not_json},
        {R"({"model":"a"}])", E::not_json},
        {"{\"model\":\"\xff\"}", E::not_json},  // invalid UTF-8
        {R"(["model","a"])", E::not_object},
        {R"("model")", E::not_object},
        {"42", E::not_object},
        {"null", E::not_object},
        {"{}", E::no_model},
        {R"({"Model":"a","messages":[{"model":"b"}]})", E::no_model},
        {R"({"model":1})", E::model_not_string},
        {R"({"model":null})", E::model_not_string},
        {R"({"model":["a"]})", E::model_not_string},
        {R"({"model":{"name":"a"}})", E::model_not_string},
        {R"({"model":"a","model":"a"})", E::duplicate_model},
        {R"({"model":"a","mod\u0065l":"b"})", E::duplicate_model},
    };
    for (const Case& c : cases) {
        CAPTURE(c.body);
        OpenAiFields f = parse(c.body);
        CHECK(f.error == c.error);
        CHECK(describe(f.error) != describe(E::none));
    }
}

TEST_CASE("rewrite_model replaces exactly the model token") {
    struct Case {
        std::string body, model, expected;
    };
    const Case cases[] = {
        {R"({"model":"a","stream":true})", "bb", R"({"model":"bb","stream":true})"},
        {"{ \"model\" :\t\"a\"  ,\n \"x\": 1 }", "new", "{ \"model\" :\t\"new\"  ,\n \"x\": 1 }"},
        {R"({"x":{"model":"a"},"model":"a"})", "b", R"({"x":{"model":"a"},"model":"b"})"},
        {R"({"model":"mo\"del"})", "plain", R"({"model":"plain"})"},
        {R"({"model":"a"})", "q\"uote\\back\nnl\x01", R"({"model":"q\"uote\\back\nnl\u0001"})"},
        {R"({"model":"a"})", "", R"({"model":""})"},
        {R"({"model":"a"})", "caf\xc3\xa9", "{\"model\":\"caf\xc3\xa9\"}"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.body);
        CAPTURE(c.model);
        std::string body = c.body;
        OpenAiFields f = parse_openai_body(body);
        REQUIRE(f.error == E::none);
        rewrite_model(body, f, c.model);
        CHECK(body == c.expected);
        OpenAiFields again = parse_openai_body(body);
        CHECK(again.error == E::none);
        CHECK(again.model == c.model);
        CHECK(again.stream == f.stream);
    }
}

TEST_CASE("json_quote escapes what JSON requires") {
    CHECK(json_quote("") == R"("")");
    CHECK(json_quote("abc") == R"("abc")");
    CHECK(json_quote("a\"b\\c") == R"("a\"b\\c")");
    CHECK(json_quote("\n\r\t") == R"("\n\r\t")");
    CHECK(json_quote(std::string_view("\0\x1f\x7f", 3)) == "\"\\u0000\\u001f\x7f\"");
    CHECK(json_quote("\xe2\x98\x83/") == "\"\xe2\x98\x83/\"");
    // Every control character round-trips through a JSON parser.
    for (int c = 0; c < 0x20; ++c) {
        CAPTURE(c);
        std::string s = "x";
        s.push_back(static_cast<char>(c));
        std::string body = "{\"model\":" + json_quote(s) + "}";
        OpenAiFields f = parse_openai_body(body);
        CHECK(f.error == E::none);
        CHECK(f.model == s);
    }
}

// BUG: proxy/openai_body.cpp:82-121 lets simdjson On-Demand skip the
// values of keys it does not read, and skipping does not validate them, so
// malformed JSON inside those values is accepted (and forwarded upstream)
// while the same malformation elsewhere is refused: acceptance depends on
// key order.
// Input: {"model":"a","x":{]}   {"model":"a","x":tru}   {"model":"a","x":"\q"}
// Expected: Error::not_json (as for {"x":{]},"model":"a"}).
// Actual: Error::none.
TEST_CASE("malformed JSON in skipped values is refused") {
    for (std::string body : {R"({"model":"a","x":{]})", R"({"model":"a","x":tru})",
                             R"({"model":"a","x":"\q"})", R"({"model":"a","x":[1,2}})"}) {
        CAPTURE(body);
        CHECK(parse(body).error == E::not_json);
    }
}

// BUG: proxy/openai_body.cpp:101-103 reports any get_string() failure as
// model_not_string, including a string with an invalid escape.
// Input: {"model":"a\qb"}. Expected: Error::not_json. Actual:
// Error::model_not_string ("'model' must be a string").
TEST_CASE("an invalid escape in the model string is not JSON") {
    CHECK(parse(R"({"model":"a\qb"})").error == E::not_json);
}

TEST_CASE("include_usage is read, and added so a stream ends with usage") {
    struct Case {
        std::string body;
        bool had;          // stream_options.include_usage already true
        bool changed;      // add_include_usage edits the body
        std::string want;  // the body after (when changed)
    };
    const Case cases[] = {
        {R"({"model":"m","stream":true})", false, true,
         R"({"stream_options":{"include_usage":true},"model":"m","stream":true})"},
        {" { \"model\":\"m\"}", false, true, " {\"stream_options\":{\"include_usage\":true}, \"model\":\"m\"}"},
        {R"({"model":"m","stream_options":{}})", false, true, R"({"model":"m","stream_options":{"include_usage":true}})"},
        {R"({"model":"m","stream_options": { } })", false, true,
         R"({"model":"m","stream_options": {"include_usage":true } })"},
        {R"({"model":"m","stream_options":{"continuous_usage_stats":true}})", false, true,
         R"({"model":"m","stream_options":{"include_usage":true,"continuous_usage_stats":true}})"},
        {R"({"model":"m","stream_options":{"include_usage":false}})", false, true,
         R"({"model":"m","stream_options":{"include_usage":true}})"},
        {R"({"model":"m","stream_options":{"include_usage":null,"x":1}})", false, true,
         R"({"model":"m","stream_options":{"include_usage":true,"x":1}})"},
        {R"({"model":"m","stream_options":null})", false, true, R"({"model":"m","stream_options":{"include_usage":true}})"},
        // The last occurrence is the one that counts, for reading and editing.
        {R"({"stream_options":{"include_usage":true},"model":"m","stream_options":{"include_usage":false}})", false, true,
         R"({"stream_options":{"include_usage":true},"model":"m","stream_options":{"include_usage":true}})"},
        {R"({"model":"m","stream_options":{"include_usage":false,"include_usage":true}})", true, true,
         R"({"model":"m","stream_options":{"include_usage":false,"include_usage":true}})"},
        {R"({"model":"m","stream_options":{"include_usage":true}})", true, true,
         R"({"model":"m","stream_options":{"include_usage":true}})"},
        // Nested look-alikes are not the field.
        {R"({"model":"m","messages":[{"stream_options":{"include_usage":true}}]})", false, true,
         R"({"stream_options":{"include_usage":true},"model":"m","messages":[{"stream_options":{"include_usage":true}}]})"},
        // Left alone: another type, escaped keys.
        {R"({"model":"m","stream_options":"yes"})", false, false, ""},
        {R"({"model":"m","stream\u005foptions":{"include_usage":false}})", false, false, ""},
        {R"({"model":"m","stream_options":{"include\u005fusage":false}})", false, false, ""},
    };
    for (const Case& c : cases) {
        CAPTURE(c.body);
        std::string body = c.body;
        OpenAiFields f = parse_openai_body(body);
        REQUIRE(f.error == E::none);
        CHECK(f.include_usage == c.had);
        std::string before = body;
        bool changed = add_include_usage(body);
        CHECK(changed == c.changed);
        if (!changed) {
            CHECK(body == before);
            continue;
        }
        CHECK(body == c.want);
        OpenAiFields g = parse_openai_body(body);
        REQUIRE(g.error == E::none);
        CHECK(g.include_usage);
        CHECK(g.model == "m");
    }
}
