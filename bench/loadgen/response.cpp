// Streamed response parsing; see response.hpp.
#include "bench/loadgen/response.hpp"

#include <strings.h>

#include <fmt/format.h>

namespace infergate::loadgen {

namespace {

StreamResponse* self(llhttp_t* p) { return static_cast<StreamResponse*>(p->data); }

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

const llhttp_settings_t StreamResponse::settings_ = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_header_field = &StreamResponse::on_header_field;
    s.on_header_value = &StreamResponse::on_header_value;
    s.on_headers_complete = &StreamResponse::on_headers_complete;
    s.on_body = &StreamResponse::on_body;
    s.on_message_complete = &StreamResponse::on_message_complete;
    return s;
}();

StreamResponse::StreamResponse(EventReader& events) : events_(events) {
    llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
    parser_.data = this;
}

// A header field's name and value may each arrive in pieces; a name
// piece after a value piece starts the next field.
int StreamResponse::on_header_field(llhttp_t* p, const char* at, size_t n) {
    StreamResponse* s = self(p);
    if ((s->header_bytes_ += n) > kMaxHeaderBytes) return -1;
    if (s->in_value_) {
        s->field_.clear();
        s->value_.clear();
        s->in_value_ = false;
    }
    s->field_.append(at, n);
    return 0;
}

int StreamResponse::on_header_value(llhttp_t* p, const char* at, size_t n) {
    StreamResponse* s = self(p);
    if ((s->header_bytes_ += n) > kMaxHeaderBytes) return -1;
    s->in_value_ = true;
    s->value_.append(at, n);
    // Kept whole on every piece (values are short): the last piece wins.
    if (iequals(s->field_, "x-sim-replica")) s->sim_replica_ = s->value_;
    else if (iequals(s->field_, "x-gateway-destination-endpoint-served")) s->served_ = s->value_;
    return 0;
}

int StreamResponse::on_headers_complete(llhttp_t* p) {
    StreamResponse* s = self(p);
    s->status_ = p->status_code;
    if (s->status_ >= 100 && s->status_ < 200) return -1;  // no Expect sent: no interim response expected
    return 0;
}

int StreamResponse::on_body(llhttp_t* p, const char* at, size_t n) {
    StreamResponse* s = self(p);
    if (s->status_ != 200) return 0;  // discarded
    const bool ok = s->sse_.feed(std::string_view(at, n), [s](std::string_view data) { s->on_event(data); });
    return ok ? 0 : -1;
}

int StreamResponse::on_message_complete(llhttp_t* p) {
    StreamResponse* s = self(p);
    s->complete_ = true;
    s->keep_alive_ = llhttp_should_keep_alive(p) != 0;
    return HPE_PAUSED;
}

void StreamResponse::on_event(std::string_view data) {
    const EventInfo e = events_.read(data);
    if (e.kind == EventInfo::Kind::done) {
        done_ = true;
        return;
    }
    if (e.kind == EventInfo::Kind::bad) return;
    if (e.text_tokens > 0) {
        text_tokens_ += e.text_tokens;
        if (first_text_ < 0) {
            first_text_ = now_;
        } else {
            tokens_after_first_ += e.text_tokens;
        }
        last_text_ = now_;
    }
    if (e.has_usage) {
        has_usage_ = true;
        usage_prompt_ = e.prompt_tokens;
        usage_completion_ = e.completion_tokens;
    }
}

StreamResponse::State StreamResponse::fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    end_ = now_;
    return State::failed;
}

StreamResponse::State StreamResponse::feed(std::string_view bytes, double now) {
    if (!error_.empty()) return State::failed;
    if (complete_) {
        if (!bytes.empty()) leftover_ = true;
        return State::complete;
    }
    now_ = now;
    if (!bytes.empty()) got_bytes_ = true;
    const llhttp_errno_t e = llhttp_execute(&parser_, bytes.data(), bytes.size());
    if (complete_) {
        const char* pos = llhttp_get_error_pos(&parser_);
        if (e == HPE_PAUSED && pos && pos != bytes.data() + bytes.size()) leftover_ = true;
        end_ = now;
        return State::complete;
    }
    if (e != HPE_OK) {
        if (header_bytes_ > kMaxHeaderBytes) return fail("response header section too large");
        if (status_ == 200 && e == HPE_USER) return fail("server-sent event too large");
        return fail(fmt::format("bad HTTP response: {}", llhttp_get_error_reason(&parser_)));
    }
    return State::more;
}

StreamResponse::State StreamResponse::eof(double now) {
    if (!error_.empty()) return State::failed;
    if (complete_) return State::complete;
    now_ = now;
    llhttp_finish(&parser_);
    if (complete_) {
        keep_alive_ = false;
        end_ = now;
        return State::complete;
    }
    return fail(got_bytes_ ? "connection closed mid-response" : "connection closed before a response");
}

}  // namespace infergate::loadgen
