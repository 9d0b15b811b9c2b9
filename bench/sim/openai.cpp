#include "bench/sim/openai.hpp"

#include <array>
#include <vector>

#include <fmt/format.h>
#include <simdjson.h>
#include <xxhash.h>

#include "bench/sim/tokenizer.hpp"

namespace infergate::sim {
namespace od = simdjson::ondemand;

namespace {

// Every helper returns false with `error` set; simdjson errors become one
// generic message, like vLLM's "JSON decode error".
constexpr std::string_view kBadJson = "Invalid JSON body";

bool read_string(od::value v, std::string_view field, std::string& out, std::string& error) {
    std::string_view s;
    if (v.get_string().get(s)) {
        error = fmt::format("'{}' must be a string", field);
        return false;
    }
    out.assign(s);
    return true;
}

// Returns true if `v` is JSON null (and consumes it).
bool is_null(od::value& v) {
    od::json_type t;
    if (v.type().get(t) || t != od::json_type::null) return false;
    bool n = false;
    return !v.is_null().get(n) && n;
}

bool read_prompt(od::value v, std::string& out, std::string& error) {
    od::json_type t;
    if (v.type().get(t)) return error = kBadJson, false;
    if (t == od::json_type::string) return read_string(v, "prompt", out, error);
    od::array arr;
    if (t != od::json_type::array || v.get_array().get(arr)) {
        error = "'prompt' must be a string or an array of strings";
        return false;
    }
    // Several prompts are concatenated: one choice per request only.
    for (auto item : arr) {
        std::string_view s;
        if (item.get_string().get(s)) {
            error = "'prompt' must be a string or an array of strings";
            return false;
        }
        out.append(s);
    }
    return true;
}

bool read_content(od::value v, std::string& out, std::string& error) {
    od::json_type t;
    if (v.type().get(t)) return error = kBadJson, false;
    if (t == od::json_type::null) return true;
    if (t == od::json_type::string) return read_string(v, "content", out, error);
    od::array parts;
    if (t != od::json_type::array || v.get_array().get(parts)) {
        error = "'content' must be a string or an array of content parts";
        return false;
    }
    // Only text parts carry prompt text; other part types are ignored.
    for (auto part : parts) {
        od::object obj;
        if (part.get_object().get(obj)) return error = "content part must be an object", false;
        std::string type, text;
        for (auto f : obj) {
            std::string_view key;
            if (f.unescaped_key().get(key)) return error = kBadJson, false;
            if (key == "type" && !read_string(f.value(), "type", type, error)) return false;
            if (key == "text" && !read_string(f.value(), "text", text, error)) return false;
        }
        if (type == "text") out += text;
    }
    return true;
}

bool read_messages(od::value v, std::string& out, std::string& error) {
    od::array arr;
    if (v.get_array().get(arr)) return error = "'messages' must be an array", false;
    std::vector<ChatMessage> messages;
    for (auto item : arr) {
        od::object obj;
        if (item.get_object().get(obj)) return error = "each message must be an object", false;
        ChatMessage m;
        bool has_role = false;
        for (auto f : obj) {
            std::string_view key;
            if (f.unescaped_key().get(key)) return error = kBadJson, false;
            if (key == "role") {
                if (!read_string(f.value(), "role", m.role, error)) return false;
                has_role = true;
            } else if (key == "content") {
                if (!read_content(f.value(), m.content, error)) return false;
            }
        }
        if (!has_role) return error = "each message needs a 'role'", false;
        messages.push_back(std::move(m));
    }
    if (messages.empty()) return error = "'messages' must not be empty", false;
    out = render_chat(messages);
    return true;
}

bool read_max_tokens(od::value v, std::string_view field, std::optional<std::uint64_t>& out,
                     std::string& error) {
    if (is_null(v)) return true;
    std::int64_t n = 0;
    if (v.get_int64().get(n)) return error = fmt::format("'{}' must be an integer", field), false;
    if (n < 1) return error = fmt::format("{} must be at least 1, got {}.", field, n), false;
    out = static_cast<std::uint64_t>(n);
    return true;
}

bool read_bool(od::value v, std::string_view field, bool& out, std::string& error) {
    if (is_null(v)) return true;
    if (v.get_bool().get(out)) return error = fmt::format("'{}' must be a boolean", field), false;
    return true;
}

bool read_stream_options(od::value v, bool& include_usage, std::string& error) {
    if (is_null(v)) return true;
    od::object obj;
    if (v.get_object().get(obj)) return error = "'stream_options' must be an object", false;
    for (auto f : obj) {
        std::string_view key;
        if (f.unescaped_key().get(key)) return error = kBadJson, false;
        if (key == "include_usage" && !read_bool(f.value(), "include_usage", include_usage, error)) {
            return false;
        }
    }
    return true;
}

bool read_field(Api api, std::string_view key, od::value v, CompletionRequest& out,
                bool& has_input, std::string& error) {
    if (key == "model") return read_string(v, "model", out.model, error);
    if (key == "stream") return read_bool(v, "stream", out.stream, error);
    if (key == "stream_options") return read_stream_options(v, out.include_usage, error);
    if (key == "max_tokens" || key == "max_completion_tokens") {
        return read_max_tokens(v, key, out.max_tokens, error);
    }
    if (key == "ignore_eos") {
        bool ignored = false;  // accepted; the simulator never stops early
        return read_bool(v, "ignore_eos", ignored, error);
    }
    if (api == Api::completions && key == "prompt") {
        has_input = true;
        return read_prompt(v, out.prompt, error);
    }
    if (api == Api::chat && key == "messages") {
        has_input = true;
        return read_messages(v, out.prompt, error);
    }
    return true;  // other OpenAI fields (temperature, n, ...) are ignored
}

}  // namespace

bool parse_completion_request(Api api, const std::string& body, CompletionRequest& out,
                              std::string& error) {
    // One parser per thread, reused: On-Demand keeps its buffers.
    thread_local od::parser parser;
    simdjson::padded_string_view view(body.data(), body.size(), body.capacity());
    if (body.capacity() - body.size() < simdjson::SIMDJSON_PADDING) {
        error = "internal: body not padded";
        return false;
    }
    od::document doc;
    od::object obj;
    if (parser.iterate(view).get(doc) || doc.get_object().get(obj)) {
        error = "Request body must be a JSON object";
        return false;
    }
    bool has_input = false;
    for (auto f : obj) {
        std::string_view key;
        od::value v;
        if (f.unescaped_key().get(key) || f.value().get(v)) return error = kBadJson, false;
        if (!read_field(api, key, v, out, has_input, error)) return false;
    }
    // Nothing may follow the object: at the end, current_location() fails
    // with OUT_OF_BOUNDS (simdjson 3.0 has no public at_end()).
    const char* rest = nullptr;
    if (doc.current_location().get(rest) != simdjson::OUT_OF_BOUNDS) return error = kBadJson, false;
    if (!has_input) {
        error = api == Api::chat ? "'messages' is required" : "'prompt' is required";
        return false;
    }
    if (out.prompt.empty()) return error = "The prompt cannot be empty", false;
    return true;
}

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

std::string error_body(std::string_view message, std::string_view type, int code) {
    std::string out = R"({"error":{"message":)";
    append_json_string(out, message);
    out += R"(,"type":)";
    append_json_string(out, type);
    out += fmt::format(R"(,"param":null,"code":{}}}}})", code);
    return out;
}

std::string make_response_id(Api api, std::uint64_t seed, std::uint64_t seq) {
    const std::array<std::uint64_t, 2> key{seed, seq};
    const XXH128_hash_t h = XXH3_128bits(key.data(), sizeof key);
    return fmt::format("{}{:016x}{:016x}", api == Api::chat ? "chatcmpl-" : "cmpl-", h.high64, h.low64);
}

namespace {

// Common prefix of every body and chunk: {"id":..,"object":..,"created":..,"model":..,
std::string head(const ResponseMeta& m, std::string_view object) {
    std::string out = R"({"id":")";
    out += m.id;
    out += R"(","object":")";
    out += object;
    out += fmt::format(R"(","created":{},"model":)", m.created);
    append_json_string(out, m.model);
    return out;
}

std::string usage_json(Usage u) {
    return fmt::format(R"({{"prompt_tokens":{},"total_tokens":{},"completion_tokens":{}}})",
                       u.prompt_tokens, u.prompt_tokens + u.completion_tokens, u.completion_tokens);
}

std::string_view chunk_object(Api api) {
    return api == Api::chat ? "chat.completion.chunk" : "text_completion";
}

}  // namespace

std::string completion_body(const ResponseMeta& m, std::string_view text, Usage u) {
    std::string out = head(m, m.api == Api::chat ? "chat.completion" : "text_completion");
    if (m.api == Api::chat) {
        out += R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)";
        append_json_string(out, text);
        out += R"(,"tool_calls":[]},"logprobs":null,"finish_reason":"length","stop_reason":null}])";
    } else {
        out += R"(,"choices":[{"index":0,"text":)";
        append_json_string(out, text);
        out += R"(,"logprobs":null,"finish_reason":"length","stop_reason":null}])";
    }
    out += R"(,"usage":)";
    out += usage_json(u);
    out += '}';
    return out;
}

std::string stream_event(const ResponseMeta& m, std::string_view text, bool finished) {
    std::string out = "data: ";
    out += head(m, chunk_object(m.api));
    out += m.api == Api::chat ? R"(,"choices":[{"index":0,"delta":{"content":)"
                              : R"(,"choices":[{"index":0,"text":)";
    append_json_string(out, text);
    if (m.api == Api::chat) out += '}';
    out += finished ? R"(,"logprobs":null,"finish_reason":"length","stop_reason":null}]})"
                    : R"(,"logprobs":null,"finish_reason":null}]})";
    out += "\n\n";
    return out;
}

std::string role_event(const ResponseMeta& m) {
    std::string out = "data: ";
    out += head(m, chunk_object(m.api));
    out += R"(,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})";
    out += "\n\n";
    return out;
}

std::string usage_event(const ResponseMeta& m, Usage u) {
    std::string out = "data: ";
    out += head(m, chunk_object(m.api));
    out += R"(,"choices":[],"usage":)";
    out += usage_json(u);
    out += "}\n\n";
    return out;
}

std::string models_body(std::span<const std::string> models, std::int64_t created,
                        std::uint32_t max_model_len) {
    std::string out = R"({"object":"list","data":[)";
    for (std::size_t i = 0; i < models.size(); ++i) {
        if (i) out += ',';
        out += R"({"id":)";
        append_json_string(out, models[i]);
        out += fmt::format(R"(,"object":"model","created":{},"owned_by":"vllm","root":)", created);
        append_json_string(out, models.front());
        out += fmt::format(R"(,"parent":null,"max_model_len":{},"permission":[]}})", max_model_len);
    }
    out += "]}";
    return out;
}

}  // namespace infergate::sim
