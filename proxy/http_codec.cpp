#include "proxy/http_codec.hpp"

#include <algorithm>
#include <cstring>

namespace infergate::proxy {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        unsigned char x = static_cast<unsigned char>(a[i]);
        unsigned char y = static_cast<unsigned char>(b[i]);
        if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
        if (x != y) return false;
    }
    return true;
}

void MessageHead::clear() {
    store_.clear();
    fields_.clear();
    url_off_ = url_len_ = 0;
    in_value_ = false;
    method = 0;
    status = 0;
    http_major = 1;
    http_minor = 1;
    keep_alive = true;
    chunked = false;
    content_length.reset();
}

std::string_view MessageHead::name(size_t i) const {
    return {store_.data() + fields_[i].name_off, fields_[i].name_len};
}

std::string_view MessageHead::value(size_t i) const {
    // Optional whitespace around values is not part of the value (RFC 9110
    // 5.5); llhttp strips the leading part, we strip the trailing part.
    std::string_view v{store_.data() + fields_[i].value_off, fields_[i].value_len};
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return v;
}

std::optional<std::string_view> MessageHead::find(std::string_view n) const {
    for (size_t i = 0; i < fields_.size(); ++i)
        if (iequals(name(i), n)) return value(i);
    return std::nullopt;
}

size_t MessageHead::count(std::string_view n) const {
    size_t c = 0;
    for (size_t i = 0; i < fields_.size(); ++i)
        if (iequals(name(i), n)) ++c;
    return c;
}

const llhttp_settings_t HttpParser::settings_ = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &HttpParser::on_message_begin;
    s.on_url = &HttpParser::on_url;
    s.on_status = &HttpParser::on_status;
    s.on_header_field = &HttpParser::on_header_field;
    s.on_header_value = &HttpParser::on_header_value;
    s.on_headers_complete = &HttpParser::on_headers_complete;
    s.on_body = &HttpParser::on_body;
    s.on_message_complete = &HttpParser::on_message_complete;
    return s;
}();

HttpParser::HttpParser(Kind kind, BodyMode mode, const ParserLimits& limits)
    : kind_(kind), mode_(mode), limits_(limits) {
    llhttp_init(&parser_, kind == Kind::request ? HTTP_REQUEST : HTTP_RESPONSE, &settings_);
    parser_.data = this;
    // One allocation each for a typical head instead of one per doubling
    // (a request head took ~13 allocations as it grew field by field).
    head_.store_.reserve(1024);
    head_.fields_.reserve(24);
}

static HttpParser* self(llhttp_t* p) { return static_cast<HttpParser*>(p->data); }

int HttpParser::fail(int status, const char* reason) {
    if (error_status_ == 0) {
        error_status_ = status;
        error_reason_ = reason;
    }
    return -1;
}

// Trailer fields (after a chunked body) are not kept: they would arrive
// after the head was validated and routed on. Their size is still bounded.
int HttpParser::trailer_bytes(size_t n) {
    header_bytes_ += static_cast<uint32_t>(std::min<size_t>(n, UINT32_MAX / 2));
    if (header_bytes_ > limits_.max_header_bytes)
        return fail(kind_ == Kind::request ? 431 : 502, "trailer section too large");
    return 0;
}

// The byte-level pass over the head section (start line, fields, empty
// line) that llhttp's callbacks cannot do: llhttp accepts obsolete line
// folding even in strict mode and skips whitespace without a callback.
// Any line feed followed by a space or tab inside the head is a folded
// line (or whitespace before the first field), both refused (RFC 9112
// 2.2, 5.2). The pass also counts the whole section against
// max_header_bytes. Returns false after recording the error.
bool HttpParser::scan_head(std::string_view data) {
    // A line at a time with memchr (a byte-at-a-time loop here was ~9% of
    // a proxied request's instructions, callgrind). Only three facts about
    // a line matter: whether it has content other than '\r', whether that
    // content starts with SP/HTAB (folding), and where it ends.
    const char* p = data.data();
    const char* const end = p + data.size();
    while (p < end) {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
        const char* line_end = nl ? nl : end;
        const size_t n = static_cast<size_t>((nl ? nl + 1 : end) - p);
        if (header_bytes_ + n > limits_.max_header_bytes) {
            bool uri = kind_ == Kind::request && scan_lines_ == 0;
            fail(kind_ == Kind::request ? (uri ? 414 : 431) : 502,
                 uri ? "URI too long" : "header section too large");
            return false;
        }
        header_bytes_ += n;
        if (scan_line_len_ == 0) {
            const char* c = p;
            while (c < line_end && *c == '\r') ++c;
            if (c < line_end) {
                if (scan_lines_ > 0 && (*c == ' ' || *c == '\t')) {
                    fail(kind_ == Kind::request ? 400 : 502, "obsolete line folding in header");
                    return false;
                }
                scan_line_len_ = 1;  // the line has content
            }
        }
        if (!nl) return true;
        if (scan_line_len_ == 0 && scan_lines_ > 0) {
            head_scanned_ = true;  // the empty line: the head ends here
            return true;
        }
        if (scan_line_len_ > 0) ++scan_lines_;  // empty lines before the start line are skipped
        scan_line_len_ = 0;
        p = nl + 1;
    }
    return true;
}

int HttpParser::on_message_begin(llhttp_t* p) {
    HttpParser* s = self(p);
    s->started_ = true;
    return 0;
}

int HttpParser::on_url(llhttp_t* p, const char* at, size_t n) {
    HttpParser* s = self(p);
    MessageHead& h = s->head_;
    if (h.url_len_ + n > s->limits_.max_uri_bytes) return s->fail(414, "URI too long");
    if (h.url_len_ == 0) h.url_off_ = static_cast<uint32_t>(h.store_.size());
    h.store_.append(at, n);
    h.url_len_ += static_cast<uint32_t>(n);
    return 0;
}

int HttpParser::on_status(llhttp_t*, const char*, size_t) { return 0; }

int HttpParser::on_header_field(llhttp_t* p, const char* at, size_t n) {
    HttpParser* s = self(p);
    MessageHead& h = s->head_;
    if (s->head_complete_) return s->trailer_bytes(n);
    if (h.fields_.empty() || h.in_value_) {
        if (h.fields_.size() >= s->limits_.max_headers)
            return s->fail(s->kind_ == Kind::request ? 431 : 502, "too many header fields");
        h.fields_.push_back({static_cast<uint32_t>(h.store_.size()), 0, 0, 0});
        h.in_value_ = false;
    }
    h.store_.append(at, n);
    h.fields_.back().name_len += static_cast<uint32_t>(n);
    return 0;
}

int HttpParser::on_header_value(llhttp_t* p, const char* at, size_t n) {
    HttpParser* s = self(p);
    MessageHead& h = s->head_;
    if (s->head_complete_) return s->trailer_bytes(n);
    if (h.fields_.empty()) return s->fail(400, "header value without a name");
    MessageHead::Field& f = h.fields_.back();
    if (!h.in_value_) {
        f.value_off = static_cast<uint32_t>(h.store_.size());
        h.in_value_ = true;
    }
    h.store_.append(at, n);
    f.value_len += static_cast<uint32_t>(n);
    return 0;
}

static bool is_chunked_only(std::string_view te) {
    while (!te.empty() && (te.front() == ' ' || te.front() == '\t')) te.remove_prefix(1);
    while (!te.empty() && (te.back() == ' ' || te.back() == '\t')) te.remove_suffix(1);
    return iequals(te, "chunked");
}

// What llhttp still accepts but a proxy must not forward ambiguously.
int HttpParser::validate_head() {
    MessageHead& h = head_;
    for (size_t i = 0; i < h.size(); ++i) {
        std::string_view v{h.store_.data() + h.fields_[i].value_off, h.fields_[i].value_len};
        // obs-fold (RFC 9112 5.2): a line folded into the previous value.
        if (v.find('\r') != std::string_view::npos || v.find('\n') != std::string_view::npos)
            return fail(kind_ == Kind::request ? 400 : 502, "obsolete line folding in header");
    }
    if (auto te = h.find("transfer-encoding")) {
        if (h.count("transfer-encoding") != 1 || !is_chunked_only(*te))
            return fail(kind_ == Kind::request ? 501 : 502, "unsupported transfer coding");
    }
    if (kind_ == Kind::response) return 0;
    if (h.http_major != 1) return fail(505, "HTTP version not supported");
    if (h.method == HTTP_CONNECT) return fail(501, "CONNECT is not supported");
    size_t hosts = h.count("host");
    if (hosts > 1) return fail(400, "repeated Host header");
    if (hosts == 0 && h.http_minor >= 1) return fail(400, "missing Host header");
    if (h.content_length && *h.content_length > limits_.max_body_bytes)
        return fail(413, "request body too large");
    return 0;
}

int HttpParser::on_headers_complete(llhttp_t* p) {
    HttpParser* s = self(p);
    MessageHead& h = s->head_;
    h.method = p->method;
    h.status = p->status_code;
    h.http_major = p->http_major;
    h.http_minor = p->http_minor;
    h.keep_alive = llhttp_should_keep_alive(p) != 0;
    h.chunked = (p->flags & F_CHUNKED) != 0;
    if (p->flags & F_CONTENT_LENGTH) h.content_length = p->content_length;
    // Upgrades are never honoured: the proxy serves the request as a plain
    // one (RFC 9110 7.8 lets a server ignore Upgrade) and drops the field
    // as hop-by-hop, so llhttp must keep parsing HTTP after it.
    p->upgrade = 0;
    if (s->validate_head() != 0) return -1;
    s->head_complete_ = true;
    s->header_bytes_ = 0;  // from here on: trailer bytes
    if (s->skip_body_) return 1;
    // 1xx, 204 and 304 never have a body, whatever Content-Length says
    // (RFC 9112 6.3); llhttp would otherwise wait for one.
    if (s->kind_ == Kind::response &&
        (h.status < 200 || h.status == 204 || h.status == 304))
        return 1;
    return 0;
}

int HttpParser::on_body(llhttp_t* p, const char* at, size_t n) {
    HttpParser* s = self(p);
    if (s->mode_ == BodyMode::pieces) {
        s->pieces_.emplace_back(at, n);
        return 0;
    }
    if (s->body_.size() + n > s->limits_.max_body_bytes)
        return s->fail(413, "request body too large");
    // Room for the whole declared body at once (a 220 KB prompt arriving
    // in 16 KiB reads otherwise reallocates and copies ~5 times), plus a
    // little for the proxy's own edits (model rewrite, include_usage).
    if (s->body_.empty() && s->head_.content_length)
        s->body_.reserve(std::min<uint64_t>(*s->head_.content_length, s->limits_.max_body_bytes) + 64);
    s->body_.append(at, n);
    return 0;
}

int HttpParser::on_message_complete(llhttp_t* p) {
    HttpParser* s = self(p);
    s->message_complete_ = true;
    return HPE_PAUSED;  // the next pipelined message waits its turn
}

static int status_for(llhttp_errno_t e) {
    switch (e) {
        case HPE_INVALID_METHOD: return 501;
        // A malformed version token is a bad request line; a well-formed
        // but unsupported version (HTTP/2.0) gets 505 from validate_head().
        case HPE_INVALID_TRANSFER_ENCODING: return 501;
        default: return 400;
    }
}

size_t HttpParser::feed(std::string_view data) {
    if (error_status_ != 0 || message_complete_) return 0;
    pieces_.clear();
    if (!head_scanned_ && !scan_head(data)) return 0;
    llhttp_errno_t e = llhttp_execute(&parser_, data.data(), data.size());
    if (e == HPE_OK) return data.size();
    const char* pos = llhttp_get_error_pos(&parser_);
    size_t consumed = pos ? static_cast<size_t>(pos - data.data()) : 0;
    if (e == HPE_PAUSED && message_complete_) return consumed;
    if (error_status_ == 0) {
        int st = status_for(e);
        if (kind_ == Kind::response) st = 502;
        fail(st, llhttp_get_error_reason(&parser_));
    }
    return consumed;
}

void HttpParser::finish() {
    if (error_status_ != 0 || message_complete_) return;
    llhttp_errno_t e = llhttp_finish(&parser_);
    if (e != HPE_OK && e != HPE_PAUSED && !message_complete_)
        fail(kind_ == Kind::response ? 502 : 400, "connection closed mid-message");
}

void HttpParser::next_message() {
    head_.clear();
    body_.clear();
    pieces_.clear();
    header_bytes_ = 0;
    head_complete_ = false;
    message_complete_ = false;
    started_ = false;
    skip_body_ = false;
    head_scanned_ = false;
    scan_line_len_ = 0;
    scan_lines_ = 0;
    if (llhttp_get_errno(&parser_) == HPE_PAUSED) llhttp_resume(&parser_);
}

}  // namespace infergate::proxy
