#include "bench/sim/tokenizer.hpp"

#include <array>
#include <cstring>

#include <xxhash.h>

namespace infergate::sim {

std::uint32_t count_tokens(std::string_view text, std::uint32_t chars_per_token) {
    return static_cast<std::uint32_t>((text.size() + chars_per_token - 1) / chars_per_token);
}

Prompt tokenize(std::string_view text, std::uint32_t chars_per_token,
                std::uint32_t block_size, std::uint64_t hash_seed) {
    Prompt p;
    p.num_tokens = count_tokens(text, chars_per_token);
    const std::size_t full_blocks = p.num_tokens / block_size;
    const std::size_t block_bytes = std::size_t{block_size} * chars_per_token;
    p.block_hashes.reserve(full_blocks);
    std::uint64_t prev = hash_seed;
    // Hash input: previous hash, then the block's bytes (one buffer, reused).
    std::string buf(sizeof prev + block_bytes, '\0');
    for (std::size_t k = 0; k < full_blocks; ++k) {
        // The last token of the prompt may be short; a full block that ends
        // with it simply hashes fewer bytes.
        std::string_view bytes = text.substr(k * block_bytes, block_bytes);
        std::memcpy(buf.data(), &prev, sizeof prev);
        std::memcpy(buf.data() + sizeof prev, bytes.data(), bytes.size());
        prev = XXH3_64bits(buf.data(), sizeof prev + bytes.size());
        p.block_hashes.push_back(prev);
    }
    return p;
}

std::uint64_t hash_seed_for_model(std::string_view model) {
    return XXH3_64bits(model.data(), model.size());
}

std::string render_chat(std::span<const ChatMessage> messages) {
    std::string out;
    for (const auto& m : messages) {
        out += "<|";
        out += m.role;
        out += "|>\n";
        out += m.content;
        out += '\n';
    }
    out += "<|assistant|>\n";
    return out;
}

namespace {
// 64 short words: readable output, no JSON escaping needed.
constexpr std::array<std::string_view, 64> kWords{
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with",
    "be", "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which",
    "but", "have", "an", "had", "they", "you", "were", "their", "one", "all", "we",
    "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who",
    "so", "no", "model", "token", "cache", "batch", "prefix", "route", "replica",
    "queue", "block", "stream", "latency", "decode", "prefill", "step", "kernel", "gpu"};
}  // namespace

std::string_view token_word(std::uint64_t seed, std::uint64_t seq, std::uint32_t index) {
    std::array<std::uint64_t, 3> key{seed, seq, index};
    return kWords[XXH3_64bits(key.data(), sizeof key) % kWords.size()];
}

void append_token_text(std::string& out, std::uint64_t seed, std::uint64_t seq,
                       std::uint32_t index) {
    if (index != 0) out += ' ';
    out += token_word(seed, seq, index);
}

}  // namespace infergate::sim
