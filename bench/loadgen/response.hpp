// One streamed HTTP/1.1 response to a completion request, parsed as its
// bytes arrive (llhttp, strict mode; chunked, Content-Length or
// close-delimited bodies). A 200 body is read as server-sent events and
// timed per event; any other body is discarded. Socket-free: the caller
// feeds bytes with the time they arrived, so tests can split a response
// anywhere.
//
// Token timing: the first event carrying text sets the first-token time
// (TTFT); every later event with text adds its gap to the previous one,
// and its tokens, so the mean inter-token latency is
// (last - first text event) / (tokens after the first event).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <llhttp.h>

#include "bench/loadgen/sse.hpp"

namespace infergate::loadgen {

class StreamResponse {
public:
    static constexpr size_t kMaxHeaderBytes = 64 * 1024;

    // `events` is shared by the responses of one thread (keeps buffers).
    explicit StreamResponse(EventReader& events);
    StreamResponse(const StreamResponse&) = delete;
    StreamResponse& operator=(const StreamResponse&) = delete;

    enum class State { more, complete, failed };

    // Feeds bytes that arrived at time `now` (any unit, the caller's).
    // After `complete`, `leftover` says whether bytes followed the message
    // (the connection is then not reusable).
    State feed(std::string_view bytes, double now);
    // The peer closed the connection: completes a close-delimited body.
    State eof(double now);

    int status() const { return status_; }
    const std::string& error() const { return error_; }
    // x-sim-replica, else x-gateway-destination-endpoint-served (or "").
    const std::string& replica() const { return sim_replica_.empty() ? served_ : sim_replica_; }
    bool keep_alive() const { return keep_alive_; }
    bool leftover() const { return leftover_; }
    bool saw_done() const { return done_; }
    bool got_bytes() const { return got_bytes_; }

    bool has_first_token() const { return first_text_ >= 0; }
    double first_token_time() const { return first_text_; }
    double last_token_time() const { return last_text_; }
    uint32_t tokens_after_first() const { return tokens_after_first_; }
    uint32_t text_tokens() const { return text_tokens_; }
    bool has_usage() const { return has_usage_; }
    uint32_t usage_prompt_tokens() const { return usage_prompt_; }
    uint32_t usage_completion_tokens() const { return usage_completion_; }
    double end_time() const { return end_; }

private:
    static int on_header_field(llhttp_t*, const char*, size_t);
    static int on_header_value(llhttp_t*, const char*, size_t);
    static int on_headers_complete(llhttp_t*);
    static int on_body(llhttp_t*, const char*, size_t);
    static int on_message_complete(llhttp_t*);
    static const llhttp_settings_t settings_;

    void on_event(std::string_view data);
    State fail(std::string message);

    llhttp_t parser_;
    EventReader& events_;
    SseParser sse_;
    std::string field_, value_;
    bool in_value_ = false;
    size_t header_bytes_ = 0;
    int status_ = 0;
    std::string sim_replica_, served_, error_;
    bool complete_ = false, keep_alive_ = false, leftover_ = false, done_ = false, got_bytes_ = false;
    double now_ = 0, first_text_ = -1, last_text_ = -1, end_ = -1;
    uint32_t tokens_after_first_ = 0, text_tokens_ = 0;
    bool has_usage_ = false;
    uint32_t usage_prompt_ = 0, usage_completion_ = 0;
};

}  // namespace infergate::loadgen
