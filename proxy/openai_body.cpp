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

OpenAiFields parse_openai_body(std::string& body) {
    OpenAiFields out;
    // On-Demand reads up to SIMDJSON_PADDING bytes past the end: make the
    // string's capacity cover them instead of copying the body.
    if (body.capacity() < body.size() + sj::SIMDJSON_PADDING)
        body.reserve(body.size() + sj::SIMDJSON_PADDING);
    thread_local sj::ondemand::parser parser;
    sj::padded_string_view input(body.data(), body.size(), body.capacity());
    sj::ondemand::document doc;
    if (parser.iterate(input).get(doc) != sj::SUCCESS) {
        out.error = OpenAiFields::Error::not_json;
        return out;
    }
    sj::ondemand::object obj;
    if (doc.get_object().get(obj) != sj::SUCCESS) {
        // An object that fails to parse is broken JSON; anything else
        // (an array, a string, a bare word) is simply not an object.
        size_t i = body.find_first_not_of(" \t\r\n");
        out.error = i != std::string::npos && body[i] == '{' ? OpenAiFields::Error::not_json
                                                             : OpenAiFields::Error::not_object;
        return out;
    }
    int models = 0;
    for (auto field_result : obj) {
        sj::ondemand::field field;
        if (std::move(field_result).get(field) != sj::SUCCESS) {
            out.error = OpenAiFields::Error::not_json;
            return out;
        }
        std::string_view key;
        if (field.unescaped_key().get(key) != sj::SUCCESS) {
            out.error = OpenAiFields::Error::not_json;
            return out;
        }
        sj::ondemand::value v = field.value();
        if (key == "model") {
            if (++models > 1) {
                out.error = OpenAiFields::Error::duplicate_model;
                return out;
            }
            std::string_view raw = v.raw_json_token();
            std::string_view m;
            if (v.get_string().get(m) != sj::SUCCESS) {
                out.error = OpenAiFields::Error::model_not_string;
                return out;
            }
            out.model.assign(m);
            // raw_json_token may include trailing whitespace; keep the token.
            while (!raw.empty() && raw.back() != '"') raw.remove_suffix(1);
            out.model_pos = static_cast<size_t>(raw.data() - body.data());
            out.model_len = raw.size();
        } else if (key == "stream") {
            bool b = false;
            if (v.get_bool().get(b) == sj::SUCCESS) out.stream = b;
        } else if (key == "user") {
            std::string_view u;
            if (v.get_string().get(u) == sj::SUCCESS) out.user.assign(u);
        } else if (key == "prompt") {
            out.has_prompt = true;
        } else if (key == "messages") {
            out.has_messages = true;
        }
    }
    // Trailing content after the object ("{...} garbage") is not JSON.
    const char* rest = nullptr;
    if (doc.current_location().get(rest) == sj::SUCCESS) {
        out.error = OpenAiFields::Error::not_json;
        return out;
    }
    if (models == 0) out.error = OpenAiFields::Error::no_model;
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
