// Fuzz target for the response usage scanners (proxy/usage_scan.hpp),
// which read untrusted upstream bytes.
//
// Checks, besides memory safety: the answers and the bytes passed on do
// not depend on how the input is split (whole, byte by byte, and pieces
// sized by the input's own bytes); without stripping every byte passes
// unchanged; with stripping the output is the input minus whole events.
#include <string>
#include <string_view>
#include <vector>

#include "proxy/usage_scan.hpp"
#include "tests/fuzz/fuzz_driver.hpp"

using namespace infergate::proxy;

namespace {

struct Result {
    std::string out;
    int64_t prompt, completion;
    uint32_t stripped;
    bool operator==(const Result&) const = default;
};

Result filter(std::string_view in, bool strip, const std::vector<size_t>& cuts) {
    SseUsageFilter f(strip);
    Result r;
    std::vector<std::string_view> out;
    size_t pos = 0;
    for (size_t k = 0; pos < in.size(); ++k) {
        size_t n = cuts.empty() ? in.size() : cuts[k % cuts.size()];
        n = std::min(n, in.size() - pos);
        f.new_round();
        out.clear();
        f.feed(in.substr(pos, n), out);
        for (auto v : out) r.out += v;
        pos += n;
    }
    f.new_round();
    out.clear();
    f.finish(out);
    for (auto v : out) r.out += v;
    r.prompt = f.prompt_tokens();
    r.completion = f.completion_tokens();
    r.stripped = f.events_stripped();
    return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::vector<size_t> own;  // piece sizes from the input itself, 0..7 (0: an empty piece)
    for (size_t i = 0; i < in.size() && own.size() < 64; ++i) own.push_back(static_cast<uint8_t>(in[i]) & 7);
    own.push_back(1);  // never only empty pieces
    std::vector<size_t> bytes{1};

    UsageScanner whole, one;
    whole.feed(in);
    for (char c : in) one.feed(std::string_view(&c, 1));
    FUZZ_CHECK(whole.has_usage() == one.has_usage());
    FUZZ_CHECK(whole.prompt_tokens() == one.prompt_tokens());
    FUZZ_CHECK(whole.completion_tokens() == one.completion_tokens());
    FUZZ_CHECK(whole.choices_empty() == one.choices_empty());

    for (bool strip : {false, true}) {
        Result a = filter(in, strip, {});
        FUZZ_CHECK(a == filter(in, strip, bytes));
        FUZZ_CHECK(a == filter(in, strip, own));
        if (!strip) FUZZ_CHECK(a.out == in);
        if (strip) {
            FUZZ_CHECK(a.out.size() <= in.size());
            FUZZ_CHECK((a.stripped == 0) == (a.out.size() == in.size()));
        }
    }
    return 0;
}

namespace infergate::fuzz {

std::vector<std::string> seed_corpus() {
    return {
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\ndata: [DONE]\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\r\n\r\ndata: [DONE]\r\n\r\n",
        ": c\n\nevent: x\ndata:{\"choices\":[],\ndata: \"usage\":{\"prompt_tokens\":1}}\r\r",
        "{\"id\":\"x\",\"choices\":[{\"message\":{\"content\":\"\\\"usage\\\"\"}}],\"usage\":{\"prompt_tokens\":12,"
        "\"prompt_tokens_details\":{\"cached_tokens\":2},\"completion_tokens\":8}}",
    };
}

std::vector<std::string> dictionary() {
    return {"data:", "data: ", "\n\n", "\r\n", "\r", ":", "{", "}", "[", "]", "[]", ",", "\"", "\\",
            "\"usage\"", "\"usage\":", "\"choices\":[]", "\"prompt_tokens\":", "\"completion_tokens\":",
            "12", "-1", "1.5", "null", "[DONE]", "event: x\n", "id: 1\n"};
}

}  // namespace infergate::fuzz
