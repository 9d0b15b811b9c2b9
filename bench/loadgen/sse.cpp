// Event JSON reading; see sse.hpp.
#include "bench/loadgen/sse.hpp"

namespace infergate::loadgen {

namespace od = simdjson::ondemand;

uint32_t count_text_tokens(std::string_view text) {
    if (text.empty()) return 0;
    uint32_t words = 0;
    bool in_word = false;
    for (char c : text) {
        const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
        if (!space && !in_word) ++words;
        in_word = !space;
    }
    return words == 0 ? 1 : words;
}

namespace {

// choices[0].text (completions) or choices[0].delta.content (chat).
std::string_view choice_text(od::object& obj) {
    od::array choices;
    if (obj.find_field_unordered("choices").get_array().get(choices)) return {};
    for (auto item : choices) {
        od::object c;
        if (item.get_object().get(c)) return {};
        std::string_view s;
        if (!c.find_field_unordered("text").get_string().get(s)) return s;
        od::object delta;
        if (!c.find_field_unordered("delta").get_object().get(delta) &&
            !delta.find_field_unordered("content").get_string().get(s))
            return s;
        return {};
    }
    return {};
}

}  // namespace

EventInfo EventReader::read(std::string_view data) {
    EventInfo info;
    if (data == "[DONE]") {
        info.kind = EventInfo::Kind::done;
        return info;
    }
    padded_.assign(data);
    padded_.reserve(data.size() + simdjson::SIMDJSON_PADDING);
    simdjson::padded_string_view view(padded_.data(), padded_.size(), padded_.capacity());
    od::document doc;
    od::object obj;
    if (parser_.iterate(view).get(doc) || doc.get_object().get(obj)) return info;
    info.kind = EventInfo::Kind::json;
    info.text_tokens = count_text_tokens(choice_text(obj));
    od::object usage;
    if (!obj.find_field_unordered("usage").get_object().get(usage)) {
        uint64_t v = 0;
        if (!usage.find_field_unordered("prompt_tokens").get_uint64().get(v)) {
            info.prompt_tokens = uint32_t(v);
            info.has_usage = true;
        }
        if (!usage.find_field_unordered("completion_tokens").get_uint64().get(v)) {
            info.completion_tokens = uint32_t(v);
            info.has_usage = true;
        }
    }
    return info;
}

}  // namespace infergate::loadgen
