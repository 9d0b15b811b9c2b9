// Event JSON reading; see sse.hpp.
#include "bench/loadgen/sse.hpp"

#include <algorithm>

namespace infergate::loadgen {

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
std::string_view choice_text(simdjson::dom::object obj) {
    simdjson::dom::array choices;
    simdjson::dom::object c;
    if (obj["choices"].get(choices) || choices.at(0).get(c)) return {};
    std::string_view s;
    if (!c["text"].get(s)) return s;
    if (!c.at_pointer("/delta/content").get(s)) return s;
    return {};
}

}  // namespace

// The DOM API, not On-Demand: it validates the whole event before any
// field is read, so a malformed event is simply "bad" (On-Demand must not
// be read on after an error, which an untrusted event can cause anywhere).
EventInfo EventReader::read(std::string_view data) {
    EventInfo info;
    if (data == "[DONE]") {
        info.kind = EventInfo::Kind::done;
        return info;
    }
    padded_.assign(data);
    padded_.reserve(data.size() + simdjson::SIMDJSON_PADDING);
    simdjson::dom::object obj;
    if (parser_.parse(padded_.data(), padded_.size(), false).get(obj)) return info;
    info.kind = EventInfo::Kind::json;
    info.text_tokens = count_text_tokens(choice_text(obj));
    simdjson::dom::object usage;
    if (!obj["usage"].get(usage)) {
        uint64_t v = 0;
        if (!usage["prompt_tokens"].get(v)) {
            info.prompt_tokens = uint32_t(std::min<uint64_t>(v, UINT32_MAX));
            info.has_usage = true;
        }
        if (!usage["completion_tokens"].get(v)) {
            info.completion_tokens = uint32_t(std::min<uint64_t>(v, UINT32_MAX));
            info.has_usage = true;
        }
    }
    return info;
}

}  // namespace infergate::loadgen
