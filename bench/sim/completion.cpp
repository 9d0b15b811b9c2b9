// The completion endpoints: parse, submit to the engine, then either
// stream SSE events as tokens are produced or answer once at the end.
// While waiting, the socket is watched so a client that disconnects
// aborts its request (freeing its batch slot and KV blocks) at once.
// Over TLS the watch works on the TCP socket under the TLS layer: a FIN
// or reset is seen the same way; any bytes (the next request, or a
// close_notify alert) count as "pipelined" and end the watch, so a TLS
// client that closes cleanly while its request waits is noticed at the
// next write instead of at once.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include "bench/sim/http_common.hpp"
#include "bench/sim/tokenizer.hpp"

namespace infergate::sim {
namespace {

// Arms a one-shot wait_read on the socket; when it fires, the coroutine
// is woken and peeks at the socket (see wait_progress).
void watch_peer(beast::tcp_stream& tcp, const std::shared_ptr<RequestStream>& s) {
    if (s->watching || s->pipelined) return;
    s->watching = true;
    tcp.socket().async_wait(net::ip::tcp::socket::wait_read,
                               [s](boost::system::error_code ec) {
                                   s->watching = false;
                                   if (ec) return;
                                   s->peer_readable = true;
                                   s->notify();
                               });
}

void unwatch_peer(beast::tcp_stream& tcp, const RequestStream& s) {
    boost::system::error_code ignored;
    if (s.watching) tcp.socket().cancel(ignored);
}

// Waits until the driver reports progress or the peer does something.
// Returns false if the peer is gone (EOF or error).
net::awaitable<bool> wait_progress(beast::tcp_stream& tcp, const std::shared_ptr<RequestStream>& s) {
    watch_peer(tcp, s);
    co_await s->wake.async_wait(use_nothrow);  // cancelled = woken
    if (!s->peer_readable) co_return true;
    s->peer_readable = false;
    char byte = 0;
    const ssize_t n = ::recv(tcp.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {
        s->pipelined = true;  // the next request is already here; read it later
        co_return true;
    }
    co_return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

std::string token_text(std::uint64_t seed, RequestId id, std::uint32_t from, std::uint32_t to) {
    std::string text;
    for (std::uint32_t i = from; i < to; ++i) append_token_text(text, seed, id, i);
    return text;
}

template <class Stream>
net::awaitable<bool> stream_response(ServerState& st, Stream& stream,
                                     const std::shared_ptr<RequestStream>& s,
                                     const ResponseMeta& meta, const CompletionRequest& creq,
                                     Usage usage, bool keep_alive, bool chunked) {
    // HTTP/1.0 clients cannot read chunked framing: they get the raw event
    // stream delimited by the connection close.
    if (!chunked) keep_alive = false;
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "text/event-stream; charset=utf-8");
    res.set("x-sim-replica", st.name);
    res.keep_alive(keep_alive);
    res.chunked(chunked);
    http::response_serializer<http::empty_body> sr{res};
    tcp_layer(stream).expires_after(kWriteTimeout);
    if (auto [ec, n] = co_await http::async_write_header(stream, sr, use_nothrow); ec) co_return false;

    const std::uint32_t per_event = st.cfg.tokens_per_event;
    const std::uint64_t seed = st.cfg.engine.seed;
    std::uint32_t sent = 0;
    std::string batch;
    for (;;) {
        // Everything ready goes out in one chunk, right away.
        batch.clear();
        // The first token goes out alone, at once, whatever --tokens-per-event
        // says: time to first token stays exact when events are batched.
        while ((sent == 0 && s->tokens_ready > 0) || s->tokens_ready - sent >= per_event ||
               (s->finished && sent < s->tokens_ready)) {
            const std::uint32_t n = sent == 0 ? 1 : std::min(per_event, s->tokens_ready - sent);
            const bool last = s->finished && sent + n == s->tokens_ready;
            if (sent == 0 && meta.api == Api::chat) batch += role_event(meta);
            batch += stream_event(meta, token_text(seed, s->id, sent, sent + n), last);
            sent += n;
        }
        const bool done = s->finished && sent == s->tokens_ready;
        if (done) {
            if (creq.include_usage) batch += usage_event(meta, usage);
            batch += kDoneEvent;
        }
        if (!batch.empty()) {
            tcp_layer(stream).expires_after(kWriteTimeout);
            auto [ec, n] = chunked
                ? co_await net::async_write(stream, http::make_chunk(net::buffer(batch)), use_nothrow)
                : co_await net::async_write(stream, net::buffer(batch), use_nothrow);
            if (ec) co_return false;
            if (done) break;
            // Tokens produced while the write was suspended woke nobody:
            // look again before waiting.
            continue;
        }
        // Nothing ready and no suspension since the check: safe to wait.
        if (!co_await wait_progress(tcp_layer(stream), s)) co_return false;
    }
    unwatch_peer(tcp_layer(stream), *s);
    if (!chunked) co_return false;
    tcp_layer(stream).expires_after(kWriteTimeout);
    auto [ec, n] = co_await net::async_write(stream, http::make_chunk_last(), use_nothrow);
    co_return !ec && keep_alive;
}

template <class Stream>
net::awaitable<bool> whole_response(ServerState& st, Stream& stream,
                                    const std::shared_ptr<RequestStream>& s,
                                    const ResponseMeta& meta, Usage usage, bool keep_alive) {
    while (!s->finished) {
        if (!co_await wait_progress(tcp_layer(stream), s)) co_return false;
    }
    unwatch_peer(tcp_layer(stream), *s);
    const std::string text = token_text(st.cfg.engine.seed, s->id, 0, s->tokens_ready);
    co_return co_await send_response(st, stream, http::status::ok, "application/json",
                                     completion_body(meta, text, usage), keep_alive);
}

std::string too_long_message(const EngineConfig& e, std::uint32_t prompt, std::uint64_t max_tokens) {
    const std::uint64_t total = prompt + max_tokens;
    if (total > e.max_model_len) {
        return fmt::format("This model's maximum context length is {} tokens. However, you requested "
                           "{} tokens ({} in the messages, {} in the completion). Please reduce the "
                           "length of the messages or completion.",
                           e.max_model_len, total, prompt, max_tokens);
    }
    return fmt::format("The request needs {} tokens of KV cache but the cache holds only {} "
                       "(--kv-blocks x --block-size).",
                       total, std::uint64_t{e.kv_blocks} * e.block_size);
}

}  // namespace

template <class Stream>
net::awaitable<bool> handle_completion(ServerState& st, Stream& stream, HttpRequest& req, Api api) {
    ++st.completion_requests;
    const bool keep_alive = req.keep_alive();
    if (st.response_header_ms > 0) {
        // Test control: hold back the status line (real time, unscaled).
        net::steady_timer delay(stream.get_executor(), std::chrono::milliseconds(st.response_header_ms));
        co_await delay.async_wait(use_nothrow);
    }
    std::string& body = req.body();
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    CompletionRequest creq;
    std::string error;
    if (!parse_completion_request(api, body, creq, error)) {
        co_return co_await send_error(st, stream, http::status::bad_request, error,
                                      "invalid_request_error", keep_alive);
    }
    const auto& models = st.cfg.engine.models;
    const auto& loras = st.cfg.engine.loras;
    if (creq.model.empty()) creq.model = models.front();  // vLLM defaults to the first name
    const auto lora_it = std::find(loras.begin(), loras.end(), creq.model);
    const auto lora = lora_it == loras.end() ? 0u : static_cast<std::uint32_t>(lora_it - loras.begin()) + 1;
    const auto served = std::find(models.begin(), models.end(), creq.model);
    if (lora == 0 && served == models.end()) {
        co_return co_await send_error(st, stream, http::status::not_found,
                                      fmt::format("The model `{}` does not exist.", creq.model),
                                      "NotFoundError", keep_alive);
    }
    // Per served model; requests for an adapter are not counted here.
    if (served != models.end()) ++st.model_requests[static_cast<std::size_t>(served - models.begin())];
    const EngineConfig& e = st.cfg.engine;
    const std::uint64_t max_tokens = creq.max_tokens.value_or(st.cfg.default_max_tokens);
    // vLLM folds the adapter into its block hashes: an adapter's KV blocks
    // are never shared with the base model's or another adapter's.
    Prompt prompt = tokenize(creq.prompt, e.chars_per_token, e.block_size,
                             hash_seed_for_model(lora ? creq.model : models.front()));
    const std::uint32_t prompt_tokens = prompt.num_tokens;
    auto s = std::make_shared<RequestStream>(stream.get_executor());
    // max_tokens above 2^32 cannot fit anyway; clamp so the engine says so.
    const auto capped = static_cast<std::uint32_t>(std::min<std::uint64_t>(max_tokens, UINT32_MAX));
    if (st.driver.submit(std::move(prompt), capped, s, lora) != SubmitError::none) {
        co_return co_await send_error(st, stream, http::status::bad_request,
                                      too_long_message(e, prompt_tokens, max_tokens),
                                      "BadRequestError", keep_alive);
    }
    const ResponseMeta meta{api, make_response_id(api, e.seed, s->id), std::time(nullptr), creq.model};
    const Usage usage{prompt_tokens, capped};
    const bool chunked = req.version() >= 11;
    const bool keep = creq.stream ? co_await stream_response(st, stream, s, meta, creq, usage, keep_alive, chunked)
                                  : co_await whole_response(st, stream, s, meta, usage, keep_alive);
    // A failed write or a vanished client leaves the request unfinished.
    if (!s->finished) st.driver.abort(s->id);
    unwatch_peer(tcp_layer(stream), *s);
    co_return keep;
}

template net::awaitable<bool> handle_completion(ServerState&, PlainStream&, HttpRequest&, Api);
template net::awaitable<bool> handle_completion(ServerState&, TlsStream&, HttpRequest&, Api);

}  // namespace infergate::sim
