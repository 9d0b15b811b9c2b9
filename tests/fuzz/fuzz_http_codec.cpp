// Fuzz target for HttpParser (proxy/http_codec.hpp).
//
// Input: byte 0 selects the parser (bit 0 response, bit 1 pieces mode,
// bit 2 expect_no_body, bit 3 finish() at the end), byte 1 seeds the feed
// boundaries and bit 0 of it picks small limits; the rest is the byte
// stream from the peer. Checks, besides memory safety:
//  - feed() never consumes more than it is given, and consumes everything
//    unless the message completed or failed;
//  - failures carry one of the documented statuses;
//  - limits hold for every completed head and collected body;
//  - piece views lie inside the buffer just fed;
//  - the first message parses to the same result fed whole or split.
#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http_codec.hpp"
#include "tests/fuzz/fuzz_driver.hpp"
#include "tests/unit/proxy/codec_util.hpp"

using namespace infergate::proxy;
using namespace infergate::proxy::test;

namespace {

struct Setup {
    Kind kind;
    Mode mode;
    bool no_body, finish;
    ParserLimits limits;
    uint32_t split_seed;
};

Setup decode(uint8_t flags, uint8_t split) {
    Setup s{flags & 1 ? Kind::response : Kind::request,
            flags & 2 ? Mode::pieces : Mode::collect,
            (flags & 4) != 0,
            (flags & 8) != 0,
            {},
            split};
    // Small limits reach every limit check; max_header_bytes stays above
    // max_uri_bytes so the status of a long URI does not depend on splits.
    if (split & 1) s.limits = ParserLimits{512, 8, 64, 256};
    return s;
}

bool status_allowed(const Setup& s, int status) {
    if (s.kind == Kind::response)
        return status == 502 || (s.mode == Mode::collect && status == 413);
    switch (status) {
        case 400: case 413: case 414: case 431: case 501: case 505: return true;
        default: return false;
    }
}

void check_head(const Setup& s, const HttpParser& p) {
    if (!p.head_complete()) return;
    const MessageHead& h = p.head();
    if (s.kind == Kind::request) FUZZ_CHECK(h.url().size() <= s.limits.max_uri_bytes);
    FUZZ_CHECK(h.size() <= s.limits.max_headers);
    for (size_t i = 0; i < h.size(); ++i) {
        std::string_view v = h.value(i);
        FUZZ_CHECK(v.empty() || (v.back() != ' ' && v.back() != '\t'));
        FUZZ_CHECK(h.find(h.name(i)).has_value());
    }
}

// Parses the whole stream as pipelined messages, fed in random pieces.
void run_stream(const Setup& s, std::string_view stream, std::minstd_rand& rng) {
    HttpParser p(s.kind, s.mode, s.limits);
    size_t off = 0;
    while (off < stream.size()) {
        if (s.no_body) p.expect_no_body(true);
        size_t n = std::min<size_t>(stream.size() - off, 1 + rng() % 64);
        std::vector<char> buf(stream.begin() + static_cast<ptrdiff_t>(off),
                              stream.begin() + static_cast<ptrdiff_t>(off + n));
        size_t used = p.feed({buf.data(), n});
        FUZZ_CHECK(used <= n);
        for (std::string_view v : p.pieces()) {
            FUZZ_CHECK(v.data() >= buf.data());
            FUZZ_CHECK(v.data() + v.size() <= buf.data() + n);
        }
        if (s.mode == Mode::collect) FUZZ_CHECK(s.kind == Kind::response || p.body().size() <= s.limits.max_body_bytes);
        if (p.failed()) {
            FUZZ_CHECK(status_allowed(s, p.error_status()));
            FUZZ_CHECK(p.feed({buf.data(), n}) == 0);
            return;
        }
        check_head(s, p);
        if (p.message_complete()) {
            FUZZ_CHECK(used > 0);
            FUZZ_CHECK(p.head_complete());
            p.next_message();
        } else {
            FUZZ_CHECK(used == n);
        }
        off += used;
    }
    if (s.finish) {
        p.finish();
        if (p.failed()) FUZZ_CHECK(status_allowed(s, p.error_status()));
    }
}

// The first message, whole vs. split at random points.
void run_split_equivalence(const Setup& s, std::string_view stream, std::minstd_rand& rng) {
    std::vector<size_t> cuts;
    for (size_t at = 0; at < stream.size();) {
        at += 1 + rng() % 16;
        if (at < stream.size()) cuts.push_back(at);
    }
    auto once = [&](std::vector<size_t> c) {
        HttpParser p(s.kind, s.mode, s.limits);
        p.expect_no_body(s.no_body);
        return run_cuts(p, stream, std::move(c), s.finish);
    };
    Outcome whole = once({}), split = once(cuts);
    FUZZ_CHECK((whole.error != 0) == (split.error != 0));
    if (whole.error == 0) FUZZ_CHECK(whole == split);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    Setup s = decode(data[0], data[1]);
    std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
    std::minstd_rand rng(static_cast<uint32_t>(data[1]) * 7919u + static_cast<uint32_t>(size));
    run_stream(s, stream, rng);
    run_split_equivalence(s, stream, rng);
    return 0;
}

namespace infergate::fuzz {

std::vector<std::string> seed_corpus() {
    // The two setup bytes (see decode()) in front of each stream.
    auto setup = [](unsigned flags, unsigned split) {
        return std::string{static_cast<char>(flags), static_cast<char>(split)};
    };
    const std::string rq = setup(0, 0), rq_small = setup(0, 1);
    const std::string rs = setup(3, 0), rs_fin = setup(11, 0), rs_head = setup(7, 2),
                      rs_collect = setup(9, 1);
    return {
        rq + "GET /v1/models HTTP/1.1\r\nHost: gw\r\nAccept: */*\r\n\r\n",
        rq + "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
             "Content-Length: 44\r\n\r\n{\"model\":\"m\",\"messages\":[],\"stream\":true}\r\n",
        rq + "POST /v1/completions HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5;e=1\r\nhello\r\n0\r\nT: x\r\n\r\nGET / HTTP/1.0\r\n\r\n",
        rq_small + "GET /" + std::string(60, 'u') + " HTTP/1.1\r\nHost: gw\r\nX:  a \r\nY:\r\n\r\n",
        rq_small + "PUT / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc"
                   "GET / HTTP/1.1\r\nHost: gw\r\n\r\n",
        rq + "GET / HTTP/1.1\r\nHost: gw\r\nX: a\r\n b\r\n\r\n",
        rs + "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        rs + "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             "6\r\ndata: \r\n3\r\nabc\r\n0\r\n\r\n",
        rs_fin + "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\ndata: [DONE]\n\n",
        rs_fin + "HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        rs_head + "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        rs_collect + "HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n" + std::string(300, 'm'),
    };
}

std::vector<std::string> dictionary() {
    return {"\r\n", "\r\n\r\n", "\n", " ", "\t", ":", ": ", ";", ",", "0\r\n\r\n", "ffffffff\r\n",
            "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "GET ", "POST ", "HEAD ", "CONNECT ", "OPTIONS * ",
            "Host: h\r\n", "Content-Length: ", "Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n",
            "Transfer-Encoding: gzip, chunked\r\n", "Connection: close\r\n", "Connection: keep-alive\r\n",
            "Expect: 100-continue\r\n", "Upgrade: websocket\r\n", "\r\n ", "HTTP/1.1 101 Switching\r\n",
            "HTTP/1.1 200 OK\r\n", "HTTP/1.1 100 Continue\r\n\r\n", "99999999999999999999"};
}

}  // namespace infergate::fuzz
