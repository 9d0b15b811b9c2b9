#include "proxy/usage_scan.hpp"

#include <cstring>
#include <limits>

namespace infergate::proxy {

// --- UsageScanner -------------------------------------------------------------
//
// A JSON tokenizer reduced to what finding two numbers needs: string and
// escape state, the container stack (object or array, one bit per level),
// whether the next string in an object is a key, and the key last seen at
// depth 1 (the document) and at depth 2 (inside usage). Malformed input
// never fails; it only stops matching.

// Bytes that end a scalar (numbers, true, false, null).
static bool ends_scalar(char c) {
    switch (c) {
        case ' ': case '\t': case '\n': case '\r':
        case ',': case ':': case '{': case '}': case '[': case ']': case '"':
            return true;
        default:
            return false;
    }
}

void UsageScanner::feed(std::string_view bytes) {
    for (char c : bytes) on_char(c);
}

void UsageScanner::end_key() {
    std::string_view k = key_overflow_ ? std::string_view() : std::string_view(key_, key_len_);
    if (depth_ == 1)
        key1_ = k == "usage" ? Key1::usage : k == "choices" ? Key1::choices : Key1::other;
    else if (depth_ == 2 && in_usage_)
        key2_ = k == "prompt_tokens"       ? Key2::prompt
                : k == "completion_tokens" ? Key2::completion
                                           : Key2::other;
}

void UsageScanner::begin_value(char c) {
    if (depth_ == 2 && in_choices_) choices_item_ = true;
    if (depth_ == 1 && c == '{' && key1_ == Key1::usage) {
        in_usage_ = true;
        cur_prompt_ = cur_completion_ = -1;
    }
    if (depth_ == 1 && c == '[' && key1_ == Key1::choices) {
        in_choices_ = true;
        choices_item_ = false;
    }
    num_target_ = nullptr;
    if (depth_ == 2 && in_usage_ && c != '{' && c != '[' && c != '"') {
        if (key2_ == Key2::prompt) num_target_ = &cur_prompt_;
        if (key2_ == Key2::completion) num_target_ = &cur_completion_;
    }
}

void UsageScanner::end_scalar() {
    in_scalar_ = false;
    if (num_target_ && num_ok_) *num_target_ = num_;
    num_target_ = nullptr;
}

void UsageScanner::on_char(char c) {
    if (in_string_) {
        if (escape_) {
            escape_ = false;
        } else if (c == '\\') {
            escape_ = true;
            key_overflow_ = true;  // an escaped key matches none of ours
        } else if (c == '"') {
            in_string_ = false;
            if (string_is_key_) end_key();
        } else if (string_is_key_) {
            if (key_len_ < kKeyMax)
                key_[key_len_++] = c;
            else
                key_overflow_ = true;
        }
        return;
    }
    if (in_scalar_) {
        if (c >= '0' && c <= '9') {
            if (num_ > (std::numeric_limits<int64_t>::max() - 9) / 10) num_ok_ = false;
            if (num_ok_) num_ = num_ * 10 + (c - '0');
            return;
        }
        if (!ends_scalar(c)) {
            num_ok_ = false;  // fraction, exponent, sign, true/false/null
            return;
        }
        end_scalar();
    }
    switch (c) {
        case ' ': case '\t': case '\n': case '\r':
            return;
        case '"':
            string_is_key_ = top_is_object() && expect_key_;
            if (string_is_key_) {
                key_len_ = 0;
                key_overflow_ = false;
            } else {
                begin_value(c);
            }
            in_string_ = true;
            return;
        case '{':
        case '[':
            begin_value(c);
            ++depth_;
            if (depth_ <= 64) {
                uint64_t bit = uint64_t{1} << (depth_ - 1);
                obj_bits_ = c == '{' ? obj_bits_ | bit : obj_bits_ & ~bit;
            }
            expect_key_ = c == '{';
            return;
        case '}':
        case ']':
            if (depth_ == 0) return;
            if (depth_ == 2 && in_usage_) {
                in_usage_ = false;
                usage_done_ = true;
                prompt_ = cur_prompt_;
                completion_ = cur_completion_;
            }
            if (depth_ == 2 && in_choices_) {
                in_choices_ = false;
                choices_empty_ = !choices_item_;
            }
            --depth_;
            expect_key_ = false;
            return;
        case ',':
            expect_key_ = top_is_object();
            return;
        case ':':
            expect_key_ = false;
            return;
        default:
            begin_value(c);
            in_scalar_ = true;
            num_ = 0;
            num_ok_ = true;
            on_char(c);  // the scalar's first byte
            return;
    }
}

// --- SseUsageFilter -----------------------------------------------------------
//
// Event stream syntax (WHATWG HTML, "server-sent events"): lines end in
// CRLF, LF or CR; a blank line ends an event; "data:" lines (one optional
// space after the colon) carry the payload, several of them joined by a
// newline; lines starting with ':' are comments.

SseUsageFilter::Step SseUsageFilter::step(char c) {
    if (after_cr_) {
        after_cr_ = false;
        // The LF of a CRLF; if that CR ended an event, the LF is its last byte.
        if (c == '\n') return cr_ended_event_ ? Step::tail_of_previous : Step::none;
    }
    if (c == '\n' || c == '\r') {
        after_cr_ = c == '\r';
        cr_ended_event_ = false;
        if (line_ == Line::start) {
            end_event();
            cr_ended_event_ = after_cr_;
            return Step::event_end;
        }
        line_ = Line::start;
        return Step::none;
    }
    switch (line_) {
        case Line::start:
            line_ = Line::field;
            field_len_ = 0;
            [[fallthrough]];
        case Line::field:
            if (c == ':') {
                field_is_data_ = field_len_ == 4 && std::memcmp(field_, "data", 4) == 0;
                line_ = field_is_data_ ? Line::value_start : Line::ignore;
                if (field_is_data_) {
                    if (event_has_data_) scan_.feed("\n");
                    event_has_data_ = true;
                }
            } else if (field_len_ < sizeof field_) {
                field_[field_len_++] = c;
            }
            return Step::none;
        case Line::value_start:
            line_ = Line::value;
            if (c == ' ') return Step::none;
            [[fallthrough]];
        case Line::value:
            scan_.feed(std::string_view(&c, 1));
            return Step::none;
        case Line::ignore:
            return Step::none;
    }
    return Step::none;
}

void SseUsageFilter::end_event() {
    if (scan_.has_usage()) {
        prompt_ = scan_.prompt_tokens();
        completion_ = scan_.completion_tokens();
    }
    event_drop_ = strip_ && !passthrough_ && scan_.has_usage() && scan_.choices_empty();
    if (event_drop_) ++stripped_;
    scan_.reset();
    event_has_data_ = false;
}

void SseUsageFilter::reset(bool strip) {
    std::string held = std::move(held_);
    std::vector<std::unique_ptr<std::string>> done = std::move(done_);
    *this = SseUsageFilter(strip);  // allocates nothing: its buffers are empty
    held_ = std::move(held);
    held_.clear();
    done_ = std::move(done);
}

void SseUsageFilter::emit_held(std::vector<std::string_view>& out) {
    if (done_used_ == done_.size()) done_.push_back(std::make_unique<std::string>());
    std::string& d = *done_[done_used_++];
    d.swap(held_);  // held_ takes d's old buffer
    held_.clear();
    out.push_back(d);
}

void SseUsageFilter::feed(std::string_view in, std::vector<std::string_view>& out) {
    if (!strip_) {
        for (char c : in) step(c);
        if (!in.empty()) out.push_back(in);
        return;
    }
    // [emit_from, ev_begin): whole events of `in` that pass; [ev_begin, i]:
    // the event being read. Held bytes, if any, start the first event.
    size_t emit_from = 0, ev_begin = 0;
    for (size_t i = 0; i < in.size(); ++i) {
        Step st = step(in[i]);
        if (st == Step::none) continue;
        if (st == Step::tail_of_previous) {
            // ev_begin == i: nothing of the next event has been read yet.
            if (event_drop_) emit_from = i + 1;
            ev_begin = i + 1;
            continue;
        }
        if (event_drop_) {
            if (ev_begin > emit_from) out.push_back(in.substr(emit_from, ev_begin - emit_from));
            held_.clear();
            emit_from = i + 1;
        } else if (!held_.empty()) {
            emit_held(out);  // emit_from == 0 here: it precedes in[0, ...)
        }
        passthrough_ = false;
        ev_begin = i + 1;
    }
    if (passthrough_) {  // the unfinished event is passing through as it comes
        if (in.size() > emit_from) out.push_back(in.substr(emit_from));
        return;
    }
    if (ev_begin > emit_from) out.push_back(in.substr(emit_from, ev_begin - emit_from));
    std::string_view tail = in.substr(ev_begin);
    if (tail.empty()) return;
    if (held_.size() + tail.size() > kMaxHeld) {
        if (!held_.empty()) emit_held(out);
        out.push_back(tail);
        passthrough_ = true;
    } else {
        held_.append(tail);
    }
}

void SseUsageFilter::finish(std::vector<std::string_view>& out) {
    // An unterminated last event is not a well-formed usage chunk: it goes
    // to the client as it is, but its usage still counts.
    if (scan_.has_usage()) {
        prompt_ = scan_.prompt_tokens();
        completion_ = scan_.completion_tokens();
    }
    scan_.reset();
    if (!held_.empty()) emit_held(out);
}

// --- ResponseTap ----------------------------------------------------------------

void ResponseTap::start(bool event_stream, bool strip) {
    sse_ = event_stream;
    strip_ = strip;
    json_.reset();
    events_.reset(event_stream && strip);
}

void ResponseTap::new_round() {
    if (sse_) events_.new_round();
}

void ResponseTap::feed(std::string_view piece, std::vector<std::string_view>& out) {
    if (sse_) {
        events_.feed(piece, out);
        return;
    }
    json_.feed(piece);
    if (!piece.empty()) out.push_back(piece);
}

void ResponseTap::finish(std::vector<std::string_view>& out) {
    if (sse_) events_.finish(out);
}

int64_t ResponseTap::prompt_tokens() const {
    if (sse_) return events_.prompt_tokens();
    return json_.has_usage() ? json_.prompt_tokens() : -1;
}

int64_t ResponseTap::completion_tokens() const {
    if (sse_) return events_.completion_tokens();
    return json_.has_usage() ? json_.completion_tokens() : -1;
}

}  // namespace infergate::proxy
