#include "bench/sim/kv_cache.hpp"

#include <cassert>

namespace infergate::sim {

KvCache::KvCache(std::uint32_t num_blocks) : blocks_(num_blocks), free_(num_blocks) {
    // Lowest ids on top of the stack: allocation order is easy to follow
    // in tests and does not matter otherwise.
    for (std::uint32_t i = 0; i < num_blocks; ++i) free_[i] = num_blocks - 1 - i;
    num_free_ = num_blocks;
    by_hash_.reserve(num_blocks);
}

std::uint32_t KvCache::lookup(std::span<const std::uint64_t> hashes, std::uint32_t max) const {
    std::uint32_t n = 0;
    while (n < max && n < hashes.size() && by_hash_.contains(hashes[n])) ++n;
    return n;
}

bool KvCache::can_allocate(std::span<const std::uint64_t> hashes, std::uint32_t hits,
                           std::uint32_t fresh) const {
    // Hit blocks that are evictable stop being available once referenced.
    std::uint32_t hit_evictable = 0;
    for (std::uint32_t i = 0; i < hits; ++i) {
        if (blocks_[by_hash_.at(hashes[i])].refs == 0) ++hit_evictable;
    }
    return fresh <= available() - hit_evictable;
}

void KvCache::allocate(std::span<const std::uint64_t> hashes, std::uint32_t hits,
                       std::uint32_t fresh, std::vector<BlockId>& out) {
    assert(can_allocate(hashes, hits, fresh));
    for (std::uint32_t i = 0; i < hits; ++i) {
        BlockId b = by_hash_.at(hashes[i]);
        if (blocks_[b].refs++ == 0) lru_remove(b);
        out.push_back(b);
    }
    for (std::uint32_t i = 0; i < fresh; ++i) out.push_back(take_one());
}

bool KvCache::grow(std::uint32_t n, std::vector<BlockId>& out) {
    if (n > available()) return false;
    for (std::uint32_t i = 0; i < n; ++i) out.push_back(take_one());
    return true;
}

void KvCache::release(std::span<const BlockId> blocks) {
    for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
        Block& blk = blocks_[*it];
        assert(blk.refs > 0);
        if (--blk.refs != 0) continue;
        if (blk.cached) {
            lru_push_back(*it);
        } else {
            free_[num_free_++] = *it;
        }
    }
}

void KvCache::commit(BlockId block, std::uint64_t hash) {
    Block& blk = blocks_[block];
    if (blk.cached) return;
    if (!by_hash_.emplace(hash, block).second) return;  // a twin already holds it
    blk.cached = true;
    blk.hash = hash;
}

BlockId KvCache::take_one() {
    // Prefer blocks that hold nothing worth keeping; evict the least
    // recently used cached block only when none is left.
    if (num_free_ > 0) {
        BlockId b = free_[--num_free_];
        blocks_[b].refs = 1;
        return b;
    }
    BlockId b = lru_head_;
    assert(b != kNone);
    lru_remove(b);
    Block& blk = blocks_[b];
    by_hash_.erase(blk.hash);
    blk.cached = false;
    blk.refs = 1;
    ++evictions_;
    return b;
}

void KvCache::lru_push_back(BlockId b) {
    Block& blk = blocks_[b];
    blk.prev = lru_tail_;
    blk.next = kNone;
    if (lru_tail_ != kNone) blocks_[lru_tail_].next = b;
    else lru_head_ = b;
    lru_tail_ = b;
    ++lru_size_;
}

void KvCache::lru_remove(BlockId b) {
    Block& blk = blocks_[b];
    if (blk.prev != kNone) blocks_[blk.prev].next = blk.next;
    else lru_head_ = blk.next;
    if (blk.next != kNone) blocks_[blk.next].prev = blk.prev;
    else lru_tail_ = blk.prev;
    blk.prev = blk.next = kNone;
    --lru_size_;
}

}  // namespace infergate::sim
