// Server-sent events of an OpenAI streaming response, split across any
// chunk boundaries, and the few fields the load generator reads from each
// event's JSON. Untrusted bytes: bounded, no exceptions.
//
// SSE framing (WHATWG): lines end in LF or CRLF; "data:" lines (one
// optional space after the colon) accumulate, joined by LF; a blank line
// dispatches the event; other fields and ":" comments are ignored.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace infergate::loadgen {

class SseParser {
public:
    // An event or a line (of any field) longer than this is an error: the
    // stream is not an OpenAI stream.
    static constexpr size_t kMaxEvent = 1 << 20;

    // Feeds body bytes; calls on_event(std::string_view data) for each
    // complete event that had data. Returns false (and stops) when an
    // event exceeds kMaxEvent.
    template <class F>
    bool feed(std::string_view bytes, F&& on_event) {
        while (!bytes.empty()) {
            const size_t nl = bytes.find('\n');
            if (nl == std::string_view::npos) {
                line_.append(bytes);
                return line_.size() <= kMaxEvent;
            }
            std::string_view line;
            if (line_.empty()) {
                line = bytes.substr(0, nl);
            } else {
                line_.append(bytes.substr(0, nl));
                line = line_;
            }
            if (line.size() > kMaxEvent) return false;  // as for a partial line: split-independent
            bytes.remove_prefix(nl + 1);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (line.empty()) {
                if (has_data_) on_event(std::string_view(data_));
                data_.clear();
                has_data_ = false;
            } else if (line.starts_with("data:")) {
                line.remove_prefix(5);
                if (line.starts_with(' ')) line.remove_prefix(1);
                if (has_data_) data_ += '\n';
                data_.append(line);
                has_data_ = true;
                if (data_.size() > kMaxEvent) return false;
            }
            line_.clear();
        }
        return true;
    }

    void reset() {
        line_.clear();
        data_.clear();
        has_data_ = false;
    }

private:
    std::string line_;  // a partial line carried to the next feed
    std::string data_;  // the current event's data
    bool has_data_ = false;
};

// What one event's data says.
struct EventInfo {
    enum class Kind { done, json, bad } kind = Kind::bad;
    uint32_t text_tokens = 0;  // tokens of text in this event (0: no text)
    bool has_usage = false;
    uint32_t prompt_tokens = 0;
    uint32_t completion_tokens = 0;
};

// Reads events with simdjson (DOM); one per thread (keeps its buffers).
class EventReader {
public:
    EventInfo read(std::string_view data);

private:
    simdjson::dom::parser parser_;
    std::string padded_;
};

// Tokens in an event's text: its whitespace-separated words, at least 1
// for a non-empty text. Exact for infergate-sim (one word per token, each
// but the first preceded by a space); for a server sending one token per
// event (vLLM) it is 1 for almost every token.
uint32_t count_text_tokens(std::string_view text);

}  // namespace infergate::loadgen
