// A deterministic stand-in tokenizer. Token i of a text is its bytes
// [c*i, c*i + c) for c = chars-per-token, so a prompt's token count and its
// KV-block hashes depend only on its bytes: two prompts sharing a prefix of
// k*block_size*c bytes share k cached blocks, which is what prefix-aware
// routing exploits. No vocabulary, no allocation beyond the hash list.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace infergate::sim {

// What the engine needs to know about a prompt.
struct Prompt {
    std::uint32_t num_tokens = 0;
    // Chained hash of every full block of prompt tokens, in order:
    // hash[k] = XXH3(hash[k-1] ++ bytes of block k), hash[-1] = seed.
    std::vector<std::uint64_t> block_hashes;
};

// Number of tokens in `text`: ceil(size / chars_per_token).
std::uint32_t count_tokens(std::string_view text, std::uint32_t chars_per_token);

// Tokenizes `text` and hashes its full blocks. `hash_seed` identifies the
// model (hash_seed_for_model) so two models never share cache entries.
Prompt tokenize(std::string_view text, std::uint32_t chars_per_token,
                std::uint32_t block_size, std::uint64_t hash_seed);

std::uint64_t hash_seed_for_model(std::string_view model);

struct ChatMessage {
    std::string role;
    std::string content;
};

// Deterministic chat template: "<|role|>\ncontent\n" per message followed
// by the generation prompt "<|assistant|>\n" (vLLM renders with
// add_generation_prompt=true).
std::string render_chat(std::span<const ChatMessage> messages);

// Text of output token `index` (0-based) of the request with arrival
// sequence number `seq`: a word from a fixed list, preceded by a space
// except for the first token. Deterministic in (seed, seq, index).
std::string_view token_word(std::uint64_t seed, std::uint64_t seq, std::uint32_t index);
void append_token_text(std::string& out, std::uint64_t seed, std::uint64_t seq,
                       std::uint32_t index);

}  // namespace infergate::sim
