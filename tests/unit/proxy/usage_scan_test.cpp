// UsageScanner and SseUsageFilter: every case is fed whole, byte by byte,
// split at every single position and in seeded random chunkings, and must
// give the same answer each way.
#include <doctest/doctest.h>

#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "proxy/usage_scan.hpp"

using namespace infergate::proxy;

// Every allocation of this test program is counted, so that a test can
// check a stretch of code allocates nothing.
namespace {
uint64_t g_allocations = 0;
}  // namespace

void* operator new(size_t n) {
    ++g_allocations;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
// The nothrow forms too (std::stable_sort's temporary buffer uses them):
// left to the library, they would pair ASan's operator new with our free.
void* operator new(size_t n, const std::nothrow_t&) noexcept {
    ++g_allocations;
    return std::malloc(n ? n : 1);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

// Chunkings of `s`: whole, byte by byte, each two-piece split, 20 random.
std::vector<std::vector<std::string_view>> chunkings(std::string_view s) {
    std::vector<std::vector<std::string_view>> out;
    out.push_back({s});
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < s.size(); ++i) bytes.push_back(s.substr(i, 1));
    out.push_back(bytes);
    for (size_t cut = 1; cut < s.size(); ++cut) out.push_back({s.substr(0, cut), s.substr(cut)});
    std::mt19937 rng(42);
    for (int k = 0; k < 20; ++k) {
        std::vector<std::string_view> parts;
        size_t pos = 0;
        while (pos < s.size()) {
            size_t n = std::uniform_int_distribution<size_t>(0, 9)(rng);  // 0: empty piece
            n = std::min(n, s.size() - pos);
            parts.push_back(s.substr(pos, n));
            pos += n;
        }
        out.push_back(parts);
    }
    return out;
}

}  // namespace

TEST_CASE("the usage scanner finds the top-level usage counts however the body is split") {
    struct Case {
        const char* name;
        std::string body;
        bool has_usage;
        int64_t prompt, completion;
        bool choices_empty;
    };
    const Case cases[] = {
        {"vLLM chat completion",
         R"({"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi \"usage\": {}"}}],"usage":{"prompt_tokens":12,"total_tokens":20,"completion_tokens":8}})",
         true, 12, 8, false},
        {"usage first, whitespace, details object",
         " {\n \"usage\" : { \"prompt_tokens_details\" : {\"cached_tokens\": 5, \"prompt_tokens\": 99},\n \"completion_tokens\" : 3 , \"prompt_tokens\" :\t7 } , \"choices\" : [ ] }",
         true, 7, 3, true},
        {"usage-only stream chunk",
         R"({"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":4,"total_tokens":9,"completion_tokens":5}})",
         true, 4, 5, true},
        {"usage null", R"({"choices":[{"delta":{}}],"usage":null})", false, -1, -1, false},
        {"no usage", R"({"choices":[{"text":"a"}]})", false, -1, -1, false},
        {"nested usage is not the response's", R"({"choices":[{"usage":{"prompt_tokens":1,"completion_tokens":2}}],"data":{"usage":{"prompt_tokens":3}}})",
         false, -1, -1, false},
        {"usage inside a string", R"({"text":"\"usage\":{\"prompt_tokens\":1}"})", false, -1, -1, false},
        {"escaped key does not match", R"({"us\u0061ge":{"prompt_tokens":1,"completion_tokens":2}})", false, -1, -1, false},
        {"non-integer counts are absent", R"({"usage":{"prompt_tokens":1.5,"completion_tokens":-2}})", true, -1, -1, false},
        {"string counts are absent", R"({"usage":{"prompt_tokens":"3","completion_tokens":null}})", true, -1, -1, false},
        {"one count only", R"({"usage":{"completion_tokens":0}})", true, -1, 0, false},
        {"last usage wins", R"({"usage":{"prompt_tokens":1,"completion_tokens":1},"usage":{"prompt_tokens":2,"completion_tokens":3}})",
         true, 2, 3, false},
        {"huge number is absent", R"({"usage":{"prompt_tokens":99999999999999999999999,"completion_tokens":1}})", true, -1, 1, false},
        {"long keys", R"({"a_very_long_key_name_that_overflows_the_buffer":1,"usage":{"prompt_tokens_and_more_and_more":5,"prompt_tokens":6,"completion_tokens":7}})",
         true, 6, 7, false},
        {"array document", R"([{"usage":{"prompt_tokens":1}}])", false, -1, -1, false},
        {"choices with null element", R"({"choices":[null],"usage":{"prompt_tokens":1,"completion_tokens":1}})", true, 1, 1, false},
        {"truncated", R"({"usage":{"prompt_tokens":1,"completion_tokens":2)", false, -1, -1, false},
        // A NUL byte is not a separator (it once ended a scalar and looped).
        {"NUL inside a scalar", std::string("{\"usage\":{\"prompt_tokens\":1\0,\"completion_tokens\":3}}", 52), true, -1, 3, false},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        for (const auto& parts : chunkings(c.body)) {
            UsageScanner s;
            for (auto p : parts) s.feed(p);
            REQUIRE(s.has_usage() == c.has_usage);
            CHECK(s.prompt_tokens() == c.prompt);
            CHECK(s.completion_tokens() == c.completion);
            CHECK(s.choices_empty() == c.choices_empty);
        }
    }
}

namespace {

const std::string kRole =
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n";
const std::string kTok =
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"usage\"},\"finish_reason\":\"length\"}]}\n\n";
const std::string kUsage =
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"total_tokens\":16,\"completion_tokens\":5}}\n\n";
const std::string kDone = "data: [DONE]\n\n";

std::string crlf(std::string s) {
    std::string out;
    for (char c : s) {
        if (c == '\n') out += '\r';
        out += c;
    }
    return out;
}

}  // namespace

TEST_CASE("the event filter reads usage and strips only the usage-only event") {
    struct Case {
        const char* name;
        std::string in;
        bool strip;
        std::string want;
        int64_t prompt, completion;
        uint32_t stripped;
    };
    // An OpenAI-style final chunk that carries usage next to a choice.
    const std::string mixed =
        "data: {\"choices\":[{\"index\":0,\"delta\":{}}],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":3}}\n\n";
    const Case cases[] = {
        {"client asked: usage passes", kRole + kTok + kUsage + kDone, false, kRole + kTok + kUsage + kDone, 11, 5, 0},
        {"injected: usage stripped", kRole + kTok + kUsage + kDone, true, kRole + kTok + kDone, 11, 5, 1},
        {"injected, CRLF lines", crlf(kRole + kUsage + kDone), true, crlf(kRole + kDone), 11, 5, 1},
        {"injected, CR lines", "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\r\r" + kDone,
         true, kDone, 1, 2, 1},
        {"no space after colon, comments and other fields kept",
         ": keepalive\n\nevent: message\nid: 7\ndata:{\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n" + kDone,
         true, ": keepalive\n\n" + kDone, 3, 4, 1},
        {"data split over two lines", "data: {\"choices\":[],\ndata: \"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}\n\n" + kDone,
         true, kDone, 5, 6, 1},
        {"usage next to a choice is not stripped", kTok + mixed + kDone, true, kTok + mixed + kDone, 2, 3, 0},
        {"no usage at all", kRole + kTok + kDone, true, kRole + kTok + kDone, -1, -1, 0},
        {"unterminated last event passes", kTok + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}",
         true, kTok + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}", 1, 1, 0},
        {"a data field named longer is not data", "datax: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n" + kDone, true,
         "datax: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n" + kDone, -1, -1, 0},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        for (const auto& parts : chunkings(c.in)) {
            SseUsageFilter f(c.strip);
            std::string got;
            std::vector<std::string_view> out;
            for (auto p : parts) {
                f.new_round();
                out.clear();
                f.feed(p, out);
                for (auto v : out) got += v;
            }
            f.new_round();
            out.clear();
            f.finish(out);
            for (auto v : out) got += v;
            REQUIRE(got == c.want);
            CHECK(f.prompt_tokens() == c.prompt);
            CHECK(f.completion_tokens() == c.completion);
            CHECK(f.events_stripped() == c.stripped);
        }
    }
}

TEST_CASE("without stripping, the filter passes every piece through as it comes") {
    SseUsageFilter f(false);
    std::string in = kRole + kUsage;
    std::vector<std::string_view> out;
    f.feed(std::string_view(in).substr(0, 10), out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].data() == in.data());  // a view of the input, not a copy
    CHECK(out[0].size() == 10);
}

TEST_CASE("an event longer than the hold limit passes through unstripped") {
    std::string big = "data: {\"choices\":[],\"pad\":\"" + std::string(2 * SseUsageFilter::kMaxHeld, 'x') +
                      "\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n";
    std::string in = big + kDone;
    SseUsageFilter f(true);
    std::string got;
    std::vector<std::string_view> out;
    for (size_t pos = 0; pos < in.size(); pos += 4096) {
        f.new_round();
        out.clear();
        f.feed(std::string_view(in).substr(pos, 4096), out);
        for (auto v : out) got += v;
    }
    f.finish(out);
    CHECK(got == in);
    CHECK(f.events_stripped() == 0);
    CHECK(f.completion_tokens() == 2);
}

TEST_CASE("the response tap scans JSON bodies without changing them") {
    std::string body = R"({"choices":[{"text":"x"}],"usage":{"prompt_tokens":9,"completion_tokens":4}})";
    ResponseTap tap;
    tap.start(false, true);  // strip is meaningless for JSON
    CHECK_FALSE(tap.stripping());
    std::vector<std::string_view> out;
    for (size_t i = 0; i < body.size(); i += 7) {
        tap.new_round();
        out.clear();
        tap.feed(std::string_view(body).substr(i, 7), out);
        REQUIRE(out.size() == 1);
        CHECK(out[0].data() == body.data() + i);
    }
    CHECK(tap.prompt_tokens() == 9);
    CHECK(tap.completion_tokens() == 4);
}

TEST_CASE("held bytes emitted by several pieces of one round stay valid until the next round") {
    // The proxy feeds every piece of a read, then writes the views: each
    // piece may complete an event held since the previous piece, short
    // tails included.
    const std::string in = kRole + kTok + kUsage + kTok + kDone;
    const std::string want = kRole + kTok + kTok + kDone;
    for (size_t step : {1u, 2u, 3u, 5u, 17u}) {
        CAPTURE(step);
        SseUsageFilter f(true);
        std::vector<std::string_view> out;
        f.new_round();
        for (size_t pos = 0; pos < in.size(); pos += step) f.feed(std::string_view(in).substr(pos, step), out);
        f.finish(out);
        std::string got;
        for (auto v : out) got += v;
        CHECK(got == want);
    }
}

TEST_CASE("a response tap allocates nothing once its buffers have grown") {
    // A stream whose events are split across reads, stripped: the held
    // tails are copied into buffers that are reused, round after round and
    // exchange after exchange.
    const std::string in = kRole + kTok + kTok + kUsage + kDone;
    const std::string want = kRole + kTok + kTok + kDone;
    std::vector<std::string_view> out;
    out.reserve(64);
    std::string got;
    got.reserve(in.size());
    auto exchange = [&](ResponseTap& tap) -> const std::string& {
        got.clear();
        tap.start(true, true);
        for (size_t pos = 0; pos < in.size(); pos += 7) {
            tap.new_round();
            out.clear();
            tap.feed(std::string_view(in).substr(pos, 7), out);
            for (auto v : out) got += v;
        }
        tap.new_round();
        out.clear();
        tap.finish(out);
        for (auto v : out) got += v;
        return got;
    };
    const uint64_t before_construct = g_allocations;
    ResponseTap tap;
    CHECK(g_allocations == before_construct);  // a tap per exchange costs nothing
    REQUIRE(exchange(tap) == want);
    const uint64_t before = g_allocations;
    const bool same = exchange(tap) == want;
    CHECK(g_allocations == before);
    CHECK(same);
    CHECK(tap.prompt_tokens() == 11);
}
