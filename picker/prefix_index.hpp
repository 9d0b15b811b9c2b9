// The approximate prefix index: which endpoints recently received which
// prefix blocks, shared by every worker.
//
// Reference: llm-d-router ebab687927f5,
// pkg/epp/framework/plugins/requestcontrol/dataproducer/approximateprefix/indexer.go
// (hashToPods, podToLRU with an eviction callback, RemovePod) and
// plugin.go (matchLongestPrefix). The reference guards both maps with one
// RWMutex; here nothing is global:
//   - block hash -> holders lives in kShards shards, each a flat hash map
//     behind its own mutex (a lookup locks one shard for a few probes);
//   - each endpoint's LRU of block hashes has its own mutex;
//   - the uid -> LRU table is sharded too, and only consulted on add.
// Lock order: the allowed-set mutex, then an endpoint shard, then an
// endpoint LRU, then a block shard. Matching takes block-shard locks only,
// one at a time; add takes the allowed-set mutex only when it starts
// tracking an endpoint.
//
// Memory is bounded: an endpoint holds at most its LRU capacity of blocks,
// and a block entry exists only while some endpoint's LRU holds it. Per
// (endpoint, block) entry: about 40 bytes in the LRU and up to 64 in the
// block map (less when several endpoints share a block).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "picker/endpoint.hpp"

namespace infergate::picker {

class PrefixIndex {
public:
    PrefixIndex();
    ~PrefixIndex();
    PrefixIndex(const PrefixIndex&) = delete;
    PrefixIndex& operator=(const PrefixIndex&) = delete;

    // For each hash in order, the endpoints holding it, until the first
    // hash no endpoint holds (the reference's matchLongestPrefix: greedy
    // from the first block). For each candidate, `matched[i]` (zeroed
    // first, matched.size() == candidates.size()) is the number of those
    // blocks it holds. One index lookup per block, whatever the number of
    // candidates. Safe from every worker at once; allocates nothing once
    // the worker's scratch has grown to the pool's size.
    void match(std::span<const uint64_t> hashes, std::span<EndpointState* const> candidates,
               std::span<uint32_t> matched) const;

    // Records that endpoint `uid` now holds `hashes` (the request's chain),
    // evicting its least recently used blocks beyond `capacity` (> 0; the
    // capacity an endpoint gets on its first add is kept). The chain is
    // touched tail first, so a prompt's head is the most recently used:
    // matching stops at the first missing block, so evicting heads first
    // (as the reference's in-order Add does) would strand the tails.
    void add(uint32_t uid, size_t capacity, std::span<const uint64_t> hashes);

    // Forgets every block of `uid` (the reference's RemovePod).
    void remove_endpoint(uint32_t uid);

    // Keeps only the endpoints in `uids` (the pool of the configuration
    // numbered `generation`), and from now on refuses to start tracking any
    // other: a pick still running on the previous configuration cannot
    // re-add a removed endpoint. A generation lower than the last one
    // applied is ignored: each configuration retains lazily, at its first
    // request, so an older configuration that serves its first request
    // after a newer one did must not shrink the index back to its pool.
    // Calls are serialised (a retain applies and prunes as one step). The
    // reference's CleanUpInactivePods does this every two minutes; here the
    // pool only changes at a reload, so it runs then.
    void retain(uint64_t generation, std::span<const uint32_t> uids);

    // (endpoint, block) entries: the reference's prefix_indexer_size.
    uint64_t size_blocks() const;
    // Blocks held by one endpoint; 0 when unknown.
    uint64_t endpoint_blocks(uint32_t uid) const;
    // Endpoints tracked.
    size_t endpoint_count() const;
    // Distinct blocks (for tests: shared blocks count once).
    uint64_t distinct_blocks() const;

    // Per-decision statistics, kept here so that they survive a reload
    // with the index (see prefix_index_stats in scheduler.hpp). Counters
    // are striped per thread: recording touches no line shared with
    // another worker.
    void record_decision(uint32_t total_blocks, uint32_t matched_blocks);
    struct Counters {
        uint64_t lookups = 0, hits = 0, matched_blocks = 0, total_blocks = 0;
        std::array<uint64_t, 11> ratio_buckets{};  // non-cumulative, bucket k: ratio in (k-1, k] tenths
        double ratio_sum = 0;
    };
    Counters counters() const;

    struct Shard;
    struct EndpointLru;
    struct Stripe;
    static constexpr size_t kStripes = 16;
    struct EndpointShard;
    static constexpr size_t kShards = 64;
    static constexpr size_t kEndpointShards = 16;

private:
    Shard& shard(uint64_t hash) const { return *shards_[hash >> 58]; }  // top 6 bits: kShards == 64
    std::shared_ptr<EndpointLru> find_or_create(uint32_t uid, size_t capacity);
    void drop_holder(uint64_t hash, uint32_t uid);

    std::array<std::unique_ptr<Shard>, kShards> shards_;
    std::array<std::unique_ptr<EndpointShard>, kEndpointShards> endpoints_;
    std::array<std::unique_ptr<Stripe>, kStripes> stripes_;
    // Endpoints allowed to be tracked after retain(); any before the
    // first. All three under allowed_mu_.
    mutable std::mutex allowed_mu_;
    std::vector<uint32_t> allowed_;  // sorted
    bool restricted_ = false;
    uint64_t applied_generation_ = 0;  // of the last retain applied
};

}  // namespace infergate::picker
