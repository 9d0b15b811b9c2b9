#include "proxy/openai_body.hpp"

#include <simdjson.h>

namespace infergate::proxy {

namespace sj = simdjson;

std::string_view describe(OpenAiFields::Error e) {
    switch (e) {
        case OpenAiFields::Error::none: return "ok";
        case OpenAiFields::Error::not_json: return "request body is not valid JSON";
        case OpenAiFields::Error::not_object: return "request body must be a JSON object";
        case OpenAiFields::Error::no_model: return "request body has no 'model' field";
        case OpenAiFields::Error::model_not_string: return "'model' must be a string";
        case OpenAiFields::Error::duplicate_model: return "request body has more than one 'model' field";
    }
    return "bad request body";
}

namespace {

// Scanners over JSON already validated by the DOM parser: no error
// handling needed, only the token structure.
size_t skip_ws(std::string_view j, size_t i) {
    while (i < j.size() && (j[i] == ' ' || j[i] == '\t' || j[i] == '\n' || j[i] == '\r')) ++i;
    return i;
}

size_t skip_string(std::string_view j, size_t i) {  // i at the opening quote
    for (++i; i < j.size() && j[i] != '"'; ++i)
        if (j[i] == '\\') ++i;
    return i + 1;
}

size_t skip_value(std::string_view j, size_t i) {
    if (j[i] == '"') return skip_string(j, i);
    if (j[i] == '{' || j[i] == '[') {
        int depth = 0;
        while (i < j.size()) {
            char c = j[i];
            if (c == '"') {
                i = skip_string(j, i);
                continue;
            }
            if (c == '{' || c == '[') ++depth;
            if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
            }
            ++i;
        }
        return i;
    }
    while (i < j.size() && j[i] != ',' && j[i] != '}' && j[i] != ']' && j[i] != ' ' &&
           j[i] != '\t' && j[i] != '\n' && j[i] != '\r')
        ++i;
    return i;
}

// Where the top-level "model" value's token is, for rewriting in place.
// Stops at the key (usually the first). False if a key is escaped, where
// raw bytes cannot be compared; the caller then asks simdjson.
bool find_model_token(std::string_view j, size_t& pos, size_t& len) {
    size_t i = skip_ws(j, 0) + 1;  // past '{'
    while (true) {
        i = skip_ws(j, i);
        if (i >= j.size() || j[i] == '}') return false;
        size_t k = i;
        i = skip_string(j, i);
        std::string_view key = j.substr(k + 1, i - k - 2);
        if (key.find('\\') != std::string_view::npos) return false;
        i = skip_ws(j, i) + 1;  // past ':'
        i = skip_ws(j, i);
        size_t v = i;
        i = skip_value(j, i);
        if (key == "model") {
            pos = v;
            len = i - v;
            return true;
        }
        i = skip_ws(j, i);
        if (i < j.size() && j[i] == ',') ++i;
    }
}

bool find_model_token_slow(std::string& body, size_t& pos, size_t& len) {
    thread_local sj::ondemand::parser parser;
    sj::padded_string_view input(body.data(), body.size(), body.capacity());
    sj::ondemand::document doc;
    sj::ondemand::object obj;
    if (parser.iterate(input).get(doc) != sj::SUCCESS || doc.get_object().get(obj) != sj::SUCCESS)
        return false;
    for (auto fr : obj) {
        sj::ondemand::field f;
        std::string_view key;
        if (std::move(fr).get(f) != sj::SUCCESS || f.unescaped_key().get(key) != sj::SUCCESS)
            return false;
        if (key != "model") continue;
        std::string_view raw = f.value().raw_json_token();
        while (!raw.empty() && raw.back() != '"') raw.remove_suffix(1);
        pos = static_cast<size_t>(raw.data() - body.data());
        len = raw.size();
        return true;
    }
    return false;
}

void append_token_id(std::string& out, uint64_t id) {
    const uint32_t v = static_cast<uint32_t>(id);
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// prompt: a string, a list of strings, a list of token ids, or a list of
// such lists (batched completions: rendered one after another).
void render_prompt(sj::dom::element v, std::string& out) {
    std::string_view s;
    uint64_t id = 0;
    if (v.get_string().get(s) == sj::SUCCESS) {
        out.append(s);
        return;
    }
    sj::dom::array arr;
    if (v.get_array().get(arr) != sj::SUCCESS) return;
    bool first = true;
    for (sj::dom::element item : arr) {
        if (item.get_string().get(s) == sj::SUCCESS) {
            if (!first) out.push_back('\n');
            out.append(s);
        } else if (item.get_uint64().get(id) == sj::SUCCESS) {
            append_token_id(out, id);
        } else if (item.is_array()) {
            render_prompt(item, out);
        }
        first = false;
    }
}

// messages: [{role, content}], content a string or a list of parts whose
// text parts count (images and audio are not hashed).
void render_messages(sj::dom::element v, std::string& out) {
    sj::dom::array arr;
    if (v.get_array().get(arr) != sj::SUCCESS) return;
    for (sj::dom::element msg : arr) {
        std::string_view role, text;
        sj::dom::element content;
        if (msg["role"].get_string().get(role) == sj::SUCCESS) {
            out.append("<|").append(role).append("|>");
        }
        if (msg["content"].get(content) != sj::SUCCESS) continue;
        if (content.get_string().get(text) == sj::SUCCESS) {
            out.append(text);
            continue;
        }
        sj::dom::array parts;
        if (content.get_array().get(parts) != sj::SUCCESS) continue;
        for (sj::dom::element part : parts)
            if (part["text"].get_string().get(text) == sj::SUCCESS) out.append(text);
    }
}

// The last top-level value of `key` in the object starting at `i` (an
// opening brace): its token's [pos, end). False if absent, or if a key is
// escaped (raw bytes cannot be compared).
bool find_last_key(std::string_view j, size_t i, std::string_view key, size_t& pos, size_t& end) {
    bool found = false;
    i = skip_ws(j, i) + 1;  // past '{'
    while (true) {
        i = skip_ws(j, i);
        if (i >= j.size() || j[i] != '"') return found;
        size_t k = i;
        i = skip_string(j, i);
        std::string_view name = j.substr(k + 1, i - k - 2);
        if (name.find('\\') != std::string_view::npos) return false;
        i = skip_ws(j, i) + 1;  // past ':'
        i = skip_ws(j, i);
        size_t v = i;
        i = skip_value(j, i);
        if (name == key) {
            pos = v;
            end = i;
            found = true;
        }
        i = skip_ws(j, i);
        if (i < j.size() && j[i] == ',') ++i;
    }
}

}  // namespace

bool add_include_usage(std::string& body) {
    std::string_view j = body;
    size_t open = skip_ws(j, 0);
    if (open >= j.size() || j[open] != '{') return false;
    size_t pos = 0, end = 0;
    bool escaped_key = false;
    if (!find_last_key(j, open, "stream_options", pos, end)) {
        // Absent, or unreadable because of escaped keys: tell them apart.
        size_t i = skip_ws(j, open + 1);
        while (i < j.size() && j[i] == '"') {
            size_t k = i;
            i = skip_string(j, i);
            if (j.substr(k, i - k).find('\\') != std::string_view::npos) escaped_key = true;
            i = skip_value(j, skip_ws(j, skip_ws(j, i) + 1));
            i = skip_ws(j, i);
            if (i < j.size() && j[i] == ',') i = skip_ws(j, i + 1);
        }
        if (escaped_key) return false;
        body.insert(open + 1, R"("stream_options":{"include_usage":true},)");
        return true;
    }
    if (j.substr(pos, end - pos) == "null") {
        body.replace(pos, end - pos, R"({"include_usage":true})");
        return true;
    }
    if (j[pos] != '{') return false;
    size_t vpos = 0, vend = 0;
    if (find_last_key(j, pos, "include_usage", vpos, vend)) {
        body.replace(vpos, vend - vpos, "true");
        return true;
    }
    // Absent from the object, or hidden behind an escaped key.
    if (j.substr(pos, end - pos).find('\\') != std::string_view::npos) return false;
    bool empty = j[skip_ws(j, pos + 1)] == '}';
    body.insert(pos + 1, empty ? R"("include_usage":true)" : R"("include_usage":true,)");
    return true;
}

OpenAiFields parse_openai_body(std::string& body) {
    OpenAiFields out;
    // simdjson reads up to SIMDJSON_PADDING bytes past the end: make the
    // string's capacity cover them instead of copying the body.
    if (body.capacity() < body.size() + sj::SIMDJSON_PADDING)
        body.reserve(body.size() + sj::SIMDJSON_PADDING);
    // The DOM parser validates the whole document (On-Demand would skip
    // unread values unchecked, so acceptance would depend on key order);
    // it also picks the fastest kernel for this CPU at run time.
    thread_local sj::dom::parser parser;
    sj::dom::element doc;
    if (parser.parse(body.data(), body.size(), false).get(doc) != sj::SUCCESS) {
        out.error = OpenAiFields::Error::not_json;
        return out;
    }
    sj::dom::object obj;
    if (doc.get_object().get(obj) != sj::SUCCESS) {
        out.error = OpenAiFields::Error::not_object;
        return out;
    }
    int models = 0;
    for (sj::dom::key_value_pair kv : obj) {
        std::string_view key = kv.key;
        if (key == "model") {
            if (++models > 1) {
                out.error = OpenAiFields::Error::duplicate_model;
                return out;
            }
            std::string_view m;
            if (kv.value.get_string().get(m) != sj::SUCCESS) {
                out.error = OpenAiFields::Error::model_not_string;
                return out;
            }
            out.model.assign(m);
        } else if (key == "stream") {
            bool b = false;
            if (kv.value.get_bool().get(b) == sj::SUCCESS) out.stream = b;
        } else if (key == "stream_options") {
            // The last occurrence wins, as in Python's json (vLLM).
            out.include_usage = false;
            sj::dom::object so;
            if (kv.value.get_object().get(so) == sj::SUCCESS) {
                for (sj::dom::key_value_pair f : so) {
                    bool b = false;
                    if (f.key == "include_usage")
                        out.include_usage = f.value.get_bool().get(b) == sj::SUCCESS && b;
                }
            }
        } else if (key == "user") {
            std::string_view u;
            if (kv.value.get_string().get(u) == sj::SUCCESS) out.user.assign(u);
        } else if (key == "prompt") {
            out.has_prompt = true;
            render_prompt(kv.value, out.prompt);
        } else if (key == "messages") {
            out.has_messages = true;
            render_messages(kv.value, out.prompt);
        } else if (key == "cache_salt") {
            std::string_view salt;
            if (kv.value.get_string().get(salt) == sj::SUCCESS) out.cache_salt.assign(salt);
        }
    }
    if (models == 0) {
        out.error = OpenAiFields::Error::no_model;
        return out;
    }
    if (!find_model_token(body, out.model_pos, out.model_len) &&
        !find_model_token_slow(body, out.model_pos, out.model_len))
        out.error = OpenAiFields::Error::not_json;  // unreachable for valid JSON
    return out;
}

std::string json_quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out.push_back('"');
    for (char c : s) {
        unsigned char u = static_cast<unsigned char>(c);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (u < 0x20) {
                    static const char hex[] = "0123456789abcdef";
                    out += "\\u00";
                    out.push_back(hex[u >> 4]);
                    out.push_back(hex[u & 15]);
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
    return out;
}

void rewrite_model(std::string& body, const OpenAiFields& f, std::string_view model) {
    body.replace(f.model_pos, f.model_len, json_quote(model));
}

}  // namespace infergate::proxy
