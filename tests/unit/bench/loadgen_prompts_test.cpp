// Prompt generation: exact lengths (tokens x chars per token), ASCII
// without JSON escapes, shared prefixes within a group only.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "bench/loadgen/prompts.hpp"

using namespace infergate::loadgen;

namespace {

bool plain_ascii(std::string_view s) {
    for (char c : s)
        if (c < ' ' || c > '~' || c == '"' || c == '\\') return false;
    return true;
}

}  // namespace

TEST_CASE("append_words: exact length, plain ASCII, appends") {
    std::mt19937_64 rng(3);
    for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{7}, size_t{64}, size_t{1000}, size_t{220000}}) {
        CAPTURE(n);
        std::string s = "x";
        append_words(s, n, rng);
        CHECK(s.size() == n + 1);
        CHECK(s[0] == 'x');
        CHECK(plain_ascii(s));
    }
    std::mt19937_64 a(5), b(5);
    std::string x, y;
    append_words(x, 500, a);
    append_words(y, 500, b);
    CHECK(x == y);  // seeded
    append_words(x, 500, a);
    CHECK(x.substr(500) != y);  // the stream moves on
}

TEST_CASE("shared-prefix prompts: sizes and sharing") {
    const struct {
        uint32_t groups, per_group, system, question, cpt;
    } cases[] = {{3, 4, 100, 20, 4}, {1, 2, 0, 5, 4}, {5, 1, 64, 0, 3}, {2, 3, 10, 10, 1}};
    for (const auto& c : cases) {
        CAPTURE(c.groups);
        CAPTURE(c.system);
        SharedPrefixPrompts p(c.groups, c.per_group, c.system, c.question, c.cpt, 11);
        CHECK(p.count() == size_t(c.groups) * c.per_group);
        std::set<std::string> systems, prompts;
        for (uint32_t g = 0; g < c.groups; ++g) {
            for (uint32_t i = 0; i < c.per_group; ++i) {
                const PromptParts pp = p.prompt(g, i);
                CHECK(pp.prefix.size() == size_t(c.system) * c.cpt);
                CHECK(pp.suffix.size() == size_t(c.question) * c.cpt);
                CHECK(pp.size() == size_t(c.system + c.question) * c.cpt);
                CHECK(plain_ascii(pp.prefix));
                CHECK(plain_ascii(pp.suffix));
                // Same group: the very same prefix bytes (stored once).
                CHECK(pp.prefix.data() == p.prompt(g, 0).prefix.data());
                systems.insert(std::string(pp.prefix));
                prompts.insert(std::string(pp.prefix) + std::string(pp.suffix));
            }
        }
        if (c.system >= 10) CHECK(systems.size() == c.groups);  // distinct prefixes per group
        if (c.question >= 10) CHECK(prompts.size() == p.count());  // distinct questions
    }
}

TEST_CASE("a differently seeded set (the burst's) shares no prefix with the groups") {
    SharedPrefixPrompts groups(20, 2, 50, 10, 4, 1), burst(1, 8, 50, 10, 4, 2);
    for (uint32_t g = 0; g < 20; ++g) CHECK(groups.prompt(g, 0).prefix != burst.prompt(0, 0).prefix);
    CHECK(burst.prompt(0, 0).prefix == burst.prompt(0, 7).prefix);
    CHECK(burst.prompt(0, 0).suffix != burst.prompt(0, 7).suffix);
}
