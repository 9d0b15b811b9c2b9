// Everything one request carries through the proxy, from its parsed head
// to the access log line. Lives in the serving coroutine's frame.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "picker/endpoint.hpp"
#include "proxy/http_codec.hpp"
#include "proxy/runtime.hpp"
#include "proxy/stats.hpp"

namespace infergate::proxy {

struct RequestCtx {
    using Clock = std::chrono::steady_clock;

    Clock::time_point start;
    std::shared_ptr<const Runtime> runtime;  // the snapshot it started with
    const MessageHead* head = nullptr;
    std::string request_id;
    std::string_view path;
    std::string model;  // the body's model as the client sent it (GIE's model_name)
    // The body's model as sent upstream, after the backend's model_rewrite
    // and the pool's model_rewrites (GIE's target_model_name). Views rq.model
    // or the runtime's config; empty when the request has no body model.
    std::string_view target_model;
    std::string_view model_rewrite;  // the model_rewrites entry that chose it, or ""
    std::string prompt;      // rendered for the prefix-cache producers (openai_body.hpp)
    std::string cache_salt;
    int priority = 0;        // the objective's; negative is sheddable
    bool client_keep_alive = true;
    bool is_head = false;

    const RuntimeRoute* route = nullptr;
    const RuntimePool* pool = nullptr;
    picker::EndpointState* endpoint = nullptr;
    std::string_view picker_reason;

    int status = 0;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    double ttfb_s = -1;
    // infergate's own added latency (forward.cpp, exchange(), defines both
    // intervals); -1 until measured. Observed once, by finish().
    double request_added_s = -1;   // last request byte parsed -> request handed to upstream
    double response_added_s = -1;  // first upstream response bytes -> first client write done
    bool truncated = false;

    // For the GIE-compatible metrics (metrics_gie.cpp).
    bool inference = false;      // an OpenAI-style request (a POST or a body)
    uint32_t model_label = 0;    // runtime->model_labels index of the model as sent
    GieSeries* gie = nullptr;    // set once dispatched to an endpoint
    bool usage_injected = false; // stream_options.include_usage added for us
    bool upstream_answered = false;  // the response head came from upstream
    bool response_complete = false;  // and its body ended normally
    bool client_aborted = false;     // the client left mid-response
    double first_body_s = -1;        // first response body bytes from upstream
    int64_t prompt_tokens = -1, completion_tokens = -1;
};

}  // namespace infergate::proxy
