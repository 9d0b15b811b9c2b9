// Paged KV cache with automatic prefix caching, modelled on vLLM V1's
// block pool: fixed-size blocks, a reference count per block, a hash ->
// block map for full prompt blocks, and LRU eviction of unreferenced
// cached blocks. Only block bookkeeping; no tensors.
//
// Not thread-safe: owned by the engine, used from one thread.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace infergate::sim {

using BlockId = std::uint32_t;

class KvCache {
public:
    explicit KvCache(std::uint32_t num_blocks);

    std::uint32_t num_blocks() const { return static_cast<std::uint32_t>(blocks_.size()); }

    // Blocks referenced by at least one request (what vLLM reports as
    // kv_cache_usage_perc; evictable cached blocks are not counted).
    std::uint32_t used_blocks() const { return num_blocks() - num_free_ - lru_size_; }

    // Number of leading hashes of `hashes` found in the cache, at most `max`.
    std::uint32_t lookup(std::span<const std::uint64_t> hashes, std::uint32_t max) const;

    // Whether `fresh` new blocks can be taken after referencing the first
    // `hits` blocks of `hashes` (which may themselves be evictable).
    bool can_allocate(std::span<const std::uint64_t> hashes, std::uint32_t hits,
                      std::uint32_t fresh) const;

    // References the first `hits` cached blocks of `hashes` and takes
    // `fresh` new ones, appending all to `out`. Precondition: can_allocate.
    void allocate(std::span<const std::uint64_t> hashes, std::uint32_t hits,
                  std::uint32_t fresh, std::vector<BlockId>& out);

    // Takes `n` new blocks (output growth). False, and nothing taken, if
    // there are not enough free or evictable blocks.
    bool grow(std::uint32_t n, std::vector<BlockId>& out);

    // Drops one reference to each block. Blocks reaching zero become free
    // (uncached) or evictable (cached); they are released in reverse so a
    // prompt's tail is evicted before its head, as vLLM does.
    void release(std::span<const BlockId> blocks);

    // Records that `block` now holds the fully computed prompt block with
    // chained hash `hash`. Ignored if another block already holds it.
    void commit(BlockId block, std::uint64_t hash);

    // Free blocks that never held a cached prefix, plus evictable ones.
    std::uint32_t available() const { return num_free_ + lru_size_; }
    std::uint32_t evictable() const { return lru_size_; }
    std::uint64_t evictions() const { return evictions_; }

private:
    static constexpr BlockId kNone = UINT32_MAX;

    struct Block {
        std::uint32_t refs = 0;
        bool cached = false;
        std::uint64_t hash = 0;
        BlockId prev = kNone;  // LRU list links, valid while evictable
        BlockId next = kNone;
    };

    BlockId take_one();
    void lru_push_back(BlockId b);
    void lru_remove(BlockId b);

    std::vector<Block> blocks_;
    std::vector<BlockId> free_;  // uncached, unreferenced blocks (a stack)
    std::uint32_t num_free_ = 0;
    BlockId lru_head_ = kNone;   // least recently used evictable block
    BlockId lru_tail_ = kNone;
    std::uint32_t lru_size_ = 0;
    std::unordered_map<std::uint64_t, BlockId> by_hash_;
    std::uint64_t evictions_ = 0;
};

}  // namespace infergate::sim
