// Token usage from OpenAI-style responses as they stream through the proxy,
// without holding them back: the response's `usage` object carries
// prompt_tokens and completion_tokens (vLLM, OpenAI), which feed the
// inference_objective_{input,output}_tokens metrics.
//
// - UsageScanner: an incremental scan of one JSON document, fed in pieces
//   split anywhere. It keeps a few dozen bytes of state (no copy of the
//   body), and notes the top-level `usage` object's two counts and whether
//   a top-level `choices` is an empty array (the usage-only stream chunk).
// - SseUsageFilter: splits a text/event-stream body into events, scans each
//   event's data as one JSON document, and, when asked to strip, drops the
//   usage-only event (`"choices":[]` with `usage`) that infergate asked the
//   upstream for on the client's behalf (`stream_options.include_usage`).
//   Stripping needs to see a whole event before passing it on: only the
//   unfinished tail of an event at the end of a piece is copied and held
//   (bounded; an event longer than kMaxHeld passes through unstripped).
// - ResponseTap: one of the two, chosen by the response's content type.
//
// Output is a list of string_views into the caller's pieces and into
// buffers this object owns; they stay valid until the next new_round().
// Not thread-safe: one per response, on its worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace infergate::proxy {

class UsageScanner {
public:
    void reset() { *this = UsageScanner(); }
    void feed(std::string_view bytes);

    // A top-level "usage" object has been closed; the counts it carried
    // (-1 when absent or not a non-negative integer).
    bool has_usage() const { return usage_done_; }
    int64_t prompt_tokens() const { return prompt_; }
    int64_t completion_tokens() const { return completion_; }
    // A top-level "choices" value was `[]`.
    bool choices_empty() const { return choices_empty_; }

private:
    enum class Key1 : uint8_t { other, usage, choices };
    enum class Key2 : uint8_t { other, prompt, completion };
    static constexpr size_t kKeyMax = 24;  // longer keys match nothing we look for

    void on_char(char c);
    void end_scalar();
    void begin_value(char c);
    void end_key();
    bool top_is_object() const { return depth_ >= 1 && depth_ <= 64 && (obj_bits_ >> (depth_ - 1) & 1); }

    uint32_t depth_ = 0;
    uint64_t obj_bits_ = 0;  // bit d-1: the container at depth d is an object
    bool expect_key_ = false;
    bool in_string_ = false, string_is_key_ = false, escape_ = false;
    bool in_scalar_ = false;
    char key_[kKeyMax];
    size_t key_len_ = 0;
    bool key_overflow_ = false;
    Key1 key1_ = Key1::other;
    Key2 key2_ = Key2::other;
    bool in_usage_ = false;      // the object at depth 2 is the top-level usage
    bool in_choices_ = false;    // the array at depth 2 is the top-level choices
    bool choices_item_ = false;  // it has an element
    bool choices_empty_ = false;
    bool usage_done_ = false;
    int64_t num_ = 0;
    bool num_ok_ = false;
    int64_t* num_target_ = nullptr;
    int64_t cur_prompt_ = -1, cur_completion_ = -1;
    int64_t prompt_ = -1, completion_ = -1;
};

class SseUsageFilter {
public:
    // Longest partial event held back while stripping.
    static constexpr size_t kMaxHeld = 64 * 1024;

    explicit SseUsageFilter(bool strip) : strip_(strip) {}

    // As if newly constructed with `strip`, keeping the buffers it grew.
    void reset(bool strip);
    // Call before the pieces of each read: reuses what the last round held.
    void new_round() { done_used_ = 0; }
    // Appends to `out` what of `in` (and of held bytes) goes to the client.
    void feed(std::string_view in, std::vector<std::string_view>& out);
    // End of body: releases a held, unterminated last event.
    void finish(std::vector<std::string_view>& out);

    // From the last event that carried a usage object (-1: none seen).
    int64_t prompt_tokens() const { return prompt_; }
    int64_t completion_tokens() const { return completion_; }
    uint32_t events_stripped() const { return stripped_; }

private:
    enum class Line : uint8_t { start, field, value_start, value, ignore };
    enum class Step : uint8_t { none, event_end, tail_of_previous };
    // Processes one byte: it may end an event (the blank line's line end),
    // or be the LF of the CRLF that ended the previous one.
    Step step(char c);
    void end_event();
    void emit_held(std::vector<std::string_view>& out);

    bool strip_;
    Line line_ = Line::start;
    bool after_cr_ = false;
    bool cr_ended_event_ = false;
    char field_[5]{};
    size_t field_len_ = 0;
    bool field_is_data_ = false;
    bool event_has_data_ = false;
    bool event_drop_ = false;   // decided at the event's end
    bool passthrough_ = false;  // this event outgrew kMaxHeld: not stripped
    UsageScanner scan_;
    std::string held_;
    // Held bytes emitted this round, done_[0, done_used_): views in the
    // caller's output point into them until the next new_round(). The
    // strings are reused from round to round (emit_held swaps buffers with
    // held_), so a steady stream allocates nothing. Pointers, not a
    // std::vector<std::string>: growing such a vector would move its short
    // (SSO) strings and invalidate the views of this round.
    std::vector<std::unique_ptr<std::string>> done_;
    size_t done_used_ = 0;
    int64_t prompt_ = -1, completion_ = -1;
    uint32_t stripped_ = 0;
};

class ResponseTap {
public:
    // `event_stream`: the body is text/event-stream; `strip`: drop the
    // usage-only event (only meaningful for event streams).
    void start(bool event_stream, bool strip);
    bool stripping() const { return sse_ && strip_; }
    void new_round();
    void feed(std::string_view piece, std::vector<std::string_view>& out);
    void finish(std::vector<std::string_view>& out);
    int64_t prompt_tokens() const;
    int64_t completion_tokens() const;

private:
    bool sse_ = false, strip_ = false;
    UsageScanner json_;
    SseUsageFilter events_{false};
};

}  // namespace infergate::proxy
