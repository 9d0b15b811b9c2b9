// Test helpers for HttpParser: run one message through the parser fed in
// arbitrary pieces and capture everything observable about the result, so
// a split feed can be compared with a single one.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/http_codec.hpp"

namespace infergate::proxy::test {

using Kind = HttpParser::Kind;
using Mode = HttpParser::BodyMode;

// Everything a caller can observe about one parsed message.
struct Outcome {
    int error = 0;
    bool complete = false;
    size_t consumed = 0;
    int method = 0, status = 0;
    int major = 0, minor = 0;
    bool keep_alive = false, chunked = false;
    std::optional<uint64_t> content_length;
    std::string url;
    std::vector<std::pair<std::string, std::string>> fields;
    std::string body;  // body() in collect mode, concatenated pieces otherwise

    bool operator==(const Outcome&) const = default;
};

inline Outcome capture(const HttpParser& p, size_t consumed, std::string body) {
    Outcome o;
    o.error = p.error_status();
    o.complete = p.message_complete();
    o.consumed = consumed;
    o.body = std::move(body);
    if (!p.head_complete()) return o;
    const MessageHead& h = p.head();
    o.method = h.method;
    o.status = h.status;
    o.major = h.http_major;
    o.minor = h.http_minor;
    o.keep_alive = h.keep_alive;
    o.chunked = h.chunked;
    o.content_length = h.content_length;
    o.url = std::string(h.url());
    for (size_t i = 0; i < h.size(); ++i) o.fields.emplace_back(h.name(i), h.value(i));
    return o;
}

// Feeds `data` to `p` cut at `cuts` (ascending offsets), stopping at the
// end of the first message or at an error. Each piece is copied into its
// own exactly sized buffer so reads past a feed show up under ASan.
// `finish`: the peer closes after the last byte.
inline Outcome run_cuts(HttpParser& p, std::string_view data, std::vector<size_t> cuts,
                        bool finish = false) {
    cuts.push_back(data.size());
    std::string body;
    size_t off = 0;
    for (size_t cut : cuts) {
        if (cut <= off) continue;
        std::vector<char> piece(data.begin() + static_cast<ptrdiff_t>(off),
                                data.begin() + static_cast<ptrdiff_t>(cut));
        size_t used = p.feed({piece.data(), piece.size()});
        for (std::string_view v : p.pieces()) body.append(v);
        off += used;
        if (used < piece.size() || p.failed() || p.message_complete()) break;
    }
    if (finish && !p.failed() && !p.message_complete()) p.finish();
    if (p.body().size()) body = p.body();
    return capture(p, off, std::move(body));
}

inline Outcome run(Kind kind, Mode mode, const ParserLimits& limits, std::string_view data,
                   std::vector<size_t> cuts = {}, bool finish = false) {
    HttpParser p(kind, mode, limits);
    return run_cuts(p, data, std::move(cuts), finish);
}

// Cut points for feeding `n` bytes one at a time.
inline std::vector<size_t> every_byte(size_t n) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < n; ++i) cuts.push_back(i);
    return cuts;
}

inline Outcome request(std::string_view data, std::vector<size_t> cuts = {},
                       const ParserLimits& limits = {}) {
    return run(Kind::request, Mode::collect, limits, data, std::move(cuts));
}

inline Outcome response(std::string_view data, std::vector<size_t> cuts = {},
                        bool finish = false) {
    return run(Kind::response, Mode::pieces, ParserLimits{}, data, std::move(cuts), finish);
}

}  // namespace infergate::proxy::test
