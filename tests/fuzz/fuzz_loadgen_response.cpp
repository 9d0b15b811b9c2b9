// Fuzz target for infergate-loadgen's streamed-response reader
// (bench/loadgen/response.hpp: llhttp, SSE framing, simdjson per event),
// which reads untrusted bytes from the server under test.
//
// Checks, besides memory safety: what is read (state, status, replica,
// token counts, usage, [DONE], keep-alive) does not depend on how the
// bytes are split (whole, byte by byte, pieces sized by the input's own
// bytes), and the token counts are consistent.
#include <string>
#include <string_view>
#include <vector>

#include "bench/loadgen/response.hpp"
#include "tests/fuzz/fuzz_driver.hpp"

using namespace infergate::loadgen;

namespace {

struct Result {
    StreamResponse::State state;
    int status;
    std::string replica, error;
    bool keep_alive, done, usage, first;
    uint32_t tokens, after_first, prompt, completion;
    bool operator==(const Result&) const = default;
};

Result read(std::string_view in, const std::vector<size_t>& cuts, bool eof) {
    static EventReader events;
    StreamResponse r(events);
    StreamResponse::State st = StreamResponse::State::more;
    size_t pos = 0;
    for (size_t k = 0; pos < in.size() && st == StreamResponse::State::more; ++k) {
        size_t n = cuts.empty() ? in.size() : cuts[k % cuts.size()];
        n = std::min(n, in.size() - pos);
        st = r.feed(in.substr(pos, n), 1.0);
        pos += n;
    }
    if (st == StreamResponse::State::more && eof) st = r.eof(1.0);
    FUZZ_CHECK(r.tokens_after_first() <= r.text_tokens());
    FUZZ_CHECK(r.has_first_token() == (r.text_tokens() > 0));
    // Leftover bytes after a complete message are reported, not parsed;
    // where the split falls decides whether they were seen, so they are
    // not compared.
    return {st,          r.status(),           r.replica(),       r.error(),
            r.keep_alive(), r.saw_done(),      r.has_usage(),     r.has_first_token(),
            r.text_tokens(), r.tokens_after_first(), r.usage_prompt_tokens(), r.usage_completion_tokens()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::vector<size_t> own;  // piece sizes from the input itself, 0..15
    for (size_t i = 0; i < in.size() && own.size() < 64; ++i) own.push_back(static_cast<uint8_t>(in[i]) & 15);
    own.push_back(1);
    for (bool eof : {false, true}) {
        const Result whole = read(in, {}, eof);
        FUZZ_CHECK(whole == read(in, {1}, eof));
        FUZZ_CHECK(whole == read(in, own, eof));
    }
    return 0;
}

namespace infergate::fuzz {

std::vector<std::string> seed_corpus() {
    const std::string events =
        "data: {\"choices\":[{\"index\":0,\"text\":\"the\"}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"text\":\" of and\"}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n";
    return {
        "HTTP/1.1 200 OK\r\nx-sim-replica: a\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + events.substr(0, 64) +
            "\r\n" + [&] {
                char size[16];
                std::snprintf(size, sizeof size, "%zx", events.size() - 64);
                return std::string(size);
            }() + "\r\n" + events.substr(64) + "\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(events.size()) + "\r\n\r\n" + events,
        "HTTP/1.0 200 OK\r\n\r\n" + events,
        "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\n{\"error\":1}",
        "HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"x y\"}}]}\r\n\r\n",
    };
}

std::vector<std::string> dictionary() {
    return {"HTTP/1.1 ", "200 OK\r\n", "\r\n", "\r\n\r\n", "Transfer-Encoding: chunked\r\n",
            "Content-Length: 5\r\n", "x-sim-replica: b\r\n", "0\r\n\r\n", "data: ", "\n\n", "[DONE]",
            "{\"choices\":[{\"text\":\" a\"}]}", "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}", "null",
            "Connection: close\r\n"};
}

}  // namespace infergate::fuzz
