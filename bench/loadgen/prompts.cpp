// Prompt generation; see prompts.hpp.
#include "bench/loadgen/prompts.hpp"

#include <array>

namespace infergate::loadgen {

namespace {

// 64 common words, 2 to 8 letters: 6 bits of randomness per word.
constexpr std::array<std::string_view, 64> kWords{
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with",
    "be", "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which",
    "but", "have", "an", "had", "they", "you", "were", "their", "one", "all", "we",
    "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who",
    "so", "no", "model", "token", "cache", "batch", "prefix", "route", "replica",
    "queue", "block", "stream", "latency", "decode", "prefill", "request", "server", "answer"};

}  // namespace

void append_words(std::string& out, size_t chars, std::mt19937_64& rng) {
    const size_t target = out.size() + chars;
    out.reserve(target);
    uint64_t bits = 0;
    int left = 0;
    while (out.size() < target) {
        if (left == 0) {
            bits = rng();
            left = 10;  // 10 words of 6 bits per draw
        }
        const std::string_view w = kWords[bits & 63];
        bits >>= 6;
        --left;
        const size_t room = target - out.size();
        out.append(w.substr(0, room));
        if (out.size() < target) out += ' ';
    }
}

SharedPrefixPrompts::SharedPrefixPrompts(uint32_t groups, uint32_t prompts_per_group, uint32_t system_tokens,
                                         uint32_t question_tokens, uint32_t chars_per_token, uint64_t seed)
    : groups_(groups), per_group_(prompts_per_group) {
    std::mt19937_64 rng(seed);
    systems_.resize(groups);
    for (auto& s : systems_) append_words(s, size_t(system_tokens) * chars_per_token, rng);
    questions_.resize(size_t(groups) * prompts_per_group);
    for (auto& q : questions_) append_words(q, size_t(question_tokens) * chars_per_token, rng);
}

}  // namespace infergate::loadgen
