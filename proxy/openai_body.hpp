// Pulling the fields the router and the picker need out of an OpenAI-style
// JSON request body, with simdjson's On-Demand API (no DOM is built).
//
// Only the top-level object is walked; nested values are skipped. The
// body is untrusted: every failure is a value, never an exception.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace infergate::proxy {

struct OpenAiFields {
    enum class Error { none, not_json, not_object, no_model, model_not_string, duplicate_model };
    Error error = Error::none;
    std::string model;         // unescaped
    size_t model_pos = 0;      // offset of the model's JSON token (with quotes)
    size_t model_len = 0;      // length of that token
    bool stream = false;
    bool include_usage = false;  // stream_options.include_usage is true
    std::string user;
    bool has_prompt = false;
    bool has_messages = false;
    // What the prefix-cache producers hash (picker SchedulingRequest::prompt):
    // a completion's prompt (strings joined by "\n"; token-id arrays as
    // their 4-byte little-endian ids), or a chat's messages rendered as
    // "<|role|>" followed by the text of each content part. Stable under
    // appending turns, which is what a prefix cache rewards.
    std::string prompt;
    std::string cache_salt;  // vLLM's cache_salt, when a string
};

// `body` is reserved to hold simdjson's padding if needed (hence non-const).
OpenAiFields parse_openai_body(std::string& body);

// One-line reason for a 400 answer.
std::string_view describe(OpenAiFields::Error e);

// Replaces the model token found by parse_openai_body with `model`.
void rewrite_model(std::string& body, const OpenAiFields& fields, std::string_view model);

// Makes the body's top-level stream_options.include_usage true (adding
// the field, or the object, or replacing false/null), so a stream ends
// with a usage chunk. `body` must have passed parse_openai_body. Returns
// false, leaving the body as it was, when it cannot do so safely
// (stream_options of another type, a key written with escapes).
bool add_include_usage(std::string& body);

// `s` as a JSON string literal, quotes included.
std::string json_quote(std::string_view s);

}  // namespace infergate::proxy
