// Prefix block hashing for approximate prefix-cache scheduling.
//
// Reference: llm-d-router ebab687927f5,
// pkg/epp/framework/plugins/requestcontrol/dataproducer/prefixhash/hashing.go
// (GetBlockHashes, computeBlockHashes). The reference hashes token ids from
// a token-producer; with no tokenizer configured it falls back to the
// `estimate` backend (dataproducer/tokenizer/estimate.go), which packs every
// 4 bytes of the request text into one pseudo-token (bytesPerToken = 4).
// infergate has no tokenizer either, so it hashes the rendered text directly
// in blocks of blockSizeTokens * kCharsPerToken bytes: the same bytes per
// block as the reference's default path, without building the token array.
//
// The chain, as the reference's: seed = hash(model, cache_salt); block i
// hashes to H(H(bytes of block i), hash of block i-1), so a block's hash
// names the whole prefix up to and including it, and requests for different
// models or with different salts never share a hash. The hash function is
// XXH3-64 (the reference uses xxHash64; hashes are never compared across
// processes, only their equality within one index matters). The last block
// may be partial, as the reference's getKVCacheBlocksFromTokens yields it.
//
// Pure functions, no shared state: safe on every worker at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace infergate::picker {

// Characters per token of the approximation (the reference's estimate
// backend's bytesPerToken, and the usual English average for Llama-3).
inline constexpr size_t kCharsPerToken = 4;

// XXH3-64 of the model name, then of the cache salt seeded with it when
// there is one (two fields, so "ab"+"c" and "a"+"bc" differ).
uint64_t prefix_seed(std::string_view model, std::string_view cache_salt);

// Replaces `out` with the chained hashes of `prompt` cut in blocks of
// `block_bytes` (> 0), at most `max_blocks` of them. An empty prompt has
// no block. Never yields 0 (the index's empty key): a 0 becomes 1.
// Allocates only when `out` must grow.
void prefix_block_hashes(std::string_view prompt, uint64_t seed, size_t block_bytes, size_t max_blocks,
                         std::vector<uint64_t>& out);

}  // namespace infergate::picker
