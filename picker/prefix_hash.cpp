// Prefix block hashing; see prefix_hash.hpp for the contract and the
// reference it follows.
#include "picker/prefix_hash.hpp"

#include <algorithm>

#include <xxhash.h>

namespace infergate::picker {

uint64_t prefix_seed(std::string_view model, std::string_view cache_salt) {
    const uint64_t h = XXH3_64bits(model.data(), model.size());
    if (cache_salt.empty()) return h;
    return XXH3_64bits_withSeed(cache_salt.data(), cache_salt.size(), h);
}

void prefix_block_hashes(std::string_view prompt, uint64_t seed, size_t block_bytes, size_t max_blocks,
                         std::vector<uint64_t>& out) {
    out.clear();
    if (prompt.empty() || block_bytes == 0 || max_blocks == 0) return;
    size_t n = prompt.size() / block_bytes + (prompt.size() % block_bytes != 0);
    if (n > max_blocks) n = max_blocks;
    out.resize(n);
    uint64_t prev = seed;
    const char* p = prompt.data();
    for (size_t i = 0; i < n; ++i) {
        const size_t len = i + 1 < n ? block_bytes : std::min(block_bytes, prompt.size() - i * block_bytes);
        // H(block bytes) chained with the previous hash, as the reference's
        // computeBlockHashes: H(blockID || prev), both little-endian.
        uint64_t pair[2] = {XXH3_64bits(p + i * block_bytes, len), prev};
        uint64_t h = XXH3_64bits(pair, sizeof pair);
        if (h == 0) h = 1;
        out[i] = h;
        prev = h;
    }
}

}  // namespace infergate::picker
