// OpenAI-compatible request parsing and response bodies, shaped as vLLM's
// OpenAI server writes them. Pure functions over strings; no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace infergate::sim {

enum class Api { completions, chat };

struct CompletionRequest {
    std::string model;                      // empty when absent
    std::string prompt;                     // rendered prompt text
    std::optional<std::uint64_t> max_tokens;  // max_tokens / max_completion_tokens
    bool stream = false;
    bool include_usage = false;             // stream_options.include_usage
};

// Parses a request body with simdjson On-Demand. `body` must have
// simdjson::SIMDJSON_PADDING bytes of spare capacity (the caller reserves
// them); it is not modified. On failure returns false and sets `error` to
// a client-facing message. Never throws.
bool parse_completion_request(Api api, const std::string& body, CompletionRequest& out,
                              std::string& error);

// Appends `s` as a JSON string literal (with quotes) to `out`.
void append_json_string(std::string& out, std::string_view s);

// {"error":{"message":...,"type":...,"code":N}}
std::string error_body(std::string_view message, std::string_view type, int code);

// Identity of one response, shared by all its chunks.
struct ResponseMeta {
    Api api;
    std::string id;  // "cmpl-..." or "chatcmpl-..."
    std::int64_t created;
    std::string model;
};

std::string make_response_id(Api api, std::uint64_t seed, std::uint64_t seq);

struct Usage {
    std::uint32_t prompt_tokens;
    std::uint32_t completion_tokens;
};

// Non-streaming body with finish_reason "length".
std::string completion_body(const ResponseMeta& m, std::string_view text, Usage u);

// One SSE event ("data: {...}\n\n") carrying `text`; `finished` sets
// finish_reason "length" on it (vLLM puts it on the last content chunk).
std::string stream_event(const ResponseMeta& m, std::string_view text, bool finished);
// Chat only: the {"role":"assistant","content":""} delta vLLM sends just
// before the first content chunk.
std::string role_event(const ResponseMeta& m);
std::string usage_event(const ResponseMeta& m, Usage u);
inline constexpr std::string_view kDoneEvent = "data: [DONE]\n\n";

// GET /v1/models body.
std::string models_body(std::span<const std::string> models, std::int64_t created,
                        std::uint32_t max_model_len);

}  // namespace infergate::sim
