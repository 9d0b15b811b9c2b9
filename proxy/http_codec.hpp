// The HTTP/1.1 codec: llhttp (built with LLHTTP_STRICT_MODE=1, no lenient
// flag ever set) driven for both directions, requests from clients and
// responses from model servers. One codec, not two.
//
// The parser pauses at the end of every message, so a pipelined request
// waits its turn in the read buffer until the previous one is answered.
// It enforces the configured limits itself and reports each violation as
// the status the client must get (nghttpx's mapping: invalid method 501,
// headers too large 431, URI too long 414, body too large 413, HTTP
// version 505, everything else 400).
//
// Not thread-safe; one parser per connection, used by its worker only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <llhttp.h>

namespace infergate::proxy {

// Parsed start line and header section of one message. Names and values
// live in one string to keep allocations per message constant.
class MessageHead {
public:
    struct Field {
        uint32_t name_off, name_len, value_off, value_len;
    };

    void clear();

    std::string_view url() const { return {store_.data() + url_off_, url_len_}; }
    size_t size() const { return fields_.size(); }
    std::string_view name(size_t i) const;
    std::string_view value(size_t i) const;
    // First field with this name (ASCII case-insensitive); nullopt if none.
    std::optional<std::string_view> find(std::string_view name) const;
    size_t count(std::string_view name) const;

    int method = 0;       // llhttp_method_t (requests)
    int status = 0;       // responses
    uint8_t http_major = 1, http_minor = 1;
    bool keep_alive = true;
    bool chunked = false;
    std::optional<uint64_t> content_length;

private:
    friend class HttpParser;
    std::string store_;
    std::vector<Field> fields_;
    uint32_t url_off_ = 0, url_len_ = 0;
    bool in_value_ = false;  // last callback was a value (for split fields)
};

struct ParserLimits {
    uint32_t max_header_bytes = 64 * 1024;
    uint32_t max_headers = 100;
    uint32_t max_uri_bytes = 8 * 1024;
    uint64_t max_body_bytes = 16ull * 1024 * 1024;
};

class HttpParser {
public:
    enum class Kind { request, response };
    // How the body is delivered: appended to body() (bounded by
    // max_body_bytes; requests) or as views into the fed buffer, valid
    // until the next feed (responses, streamed through).
    enum class BodyMode { collect, pieces };

    HttpParser(Kind kind, BodyMode mode, const ParserLimits& limits);
    HttpParser(const HttpParser&) = delete;
    HttpParser& operator=(const HttpParser&) = delete;

    // Parses as much of `data` as belongs to the current message. Returns
    // the bytes consumed; fewer than data.size() only when the message
    // completed (the rest is the next message) or on error.
    size_t feed(std::string_view data);
    // The peer closed the connection: completes a close-delimited body.
    void finish();

    // Starts the next message (after message_complete()).
    void next_message();

    bool head_complete() const { return head_complete_; }
    bool message_complete() const { return message_complete_; }
    bool failed() const { return error_status_ != 0; }
    // HTTP status to answer with (400, 413, 414, 431, 501, 505); 0 if ok.
    int error_status() const { return error_status_; }
    std::string_view error_reason() const { return error_reason_; }
    // True once any byte of the current message has been consumed.
    bool started() const { return started_; }

    MessageHead& head() { return head_; }
    const MessageHead& head() const { return head_; }
    std::string& body() { return body_; }
    std::vector<std::string_view>& pieces() { return pieces_; }

    // Responses to HEAD requests have no body whatever their headers say.
    void expect_no_body(bool v) { skip_body_ = v; }

private:
    static int on_message_begin(llhttp_t*);
    static int on_url(llhttp_t*, const char*, size_t);
    static int on_status(llhttp_t*, const char*, size_t);
    static int on_header_field(llhttp_t*, const char*, size_t);
    static int on_header_value(llhttp_t*, const char*, size_t);
    static int on_headers_complete(llhttp_t*);
    static int on_body(llhttp_t*, const char*, size_t);
    static int on_message_complete(llhttp_t*);
    static const llhttp_settings_t settings_;

    int fail(int status, const char* reason);
    int trailer_bytes(size_t n);
    bool scan_head(std::string_view data);
    int validate_head();

    llhttp_t parser_;
    Kind kind_;
    BodyMode mode_;
    ParserLimits limits_;
    MessageHead head_;
    std::string body_;
    std::vector<std::string_view> pieces_;
    uint32_t header_bytes_ = 0;  // head section, then trailer bytes
    // Byte-level scan of the head section (see scan_head()).
    bool head_scanned_ = false;
    uint32_t scan_line_len_ = 0;  // nonzero: the current line has content other than CR
    uint32_t scan_lines_ = 0;     // non-empty lines so far
    bool head_complete_ = false;
    bool message_complete_ = false;
    bool started_ = false;
    bool skip_body_ = false;
    int error_status_ = 0;
    const char* error_reason_ = "";
};

// ASCII case-insensitive equality, for header names.
bool iequals(std::string_view a, std::string_view b);

}  // namespace infergate::proxy
