// The approximate prefix index; see prefix_index.hpp for the contract and
// the reference it follows.
#include "picker/prefix_index.hpp"

#include <algorithm>
#include <bit>

#include <boost/container/small_vector.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

namespace infergate::picker {

namespace {

// Keys are XXH3 outputs: already well mixed, so the map may use them as
// they are (boost skips its post-mixing for avalanching hashes).
struct Avalanched {
    using is_avalanching = void;
    size_t operator()(uint64_t h) const noexcept { return static_cast<size_t>(h); }
};

// Most blocks are held by one or a few endpoints; a common system prompt
// may be held by all of them.
using Holders = boost::container::small_vector<uint32_t, 3>;

constexpr uint32_t kNil = UINT32_MAX;

// uid -> candidate index for one match, open addressing, per worker.
class UidTable {
public:
    void build(std::span<EndpointState* const> candidates) {
        size_t cap = 16;
        while (cap < 2 * candidates.size()) cap *= 2;
        slots_.assign(cap, 0);
        mask_ = cap - 1;
        for (size_t i = 0; i < candidates.size(); ++i) {
            const uint64_t uid = candidates[i]->uid();
            size_t s = slot(uint32_t(uid));
            while (slots_[s] != 0) s = (s + 1) & mask_;
            slots_[s] = uid << 32 | i;
        }
    }
    // Candidate index of `uid`, or kNil.
    uint32_t find(uint32_t uid) const {
        for (size_t s = slot(uid);; s = (s + 1) & mask_) {
            const uint64_t v = slots_[s];
            if (v == 0) return kNil;
            if (uint32_t(v >> 32) == uid) return uint32_t(v);
        }
    }

private:
    size_t slot(uint32_t uid) const { return (uint64_t(uid) * 0x9E3779B97F4A7C15ull >> 32) & mask_; }
    std::vector<uint64_t> slots_;
    size_t mask_ = 0;
};

// A small per-thread number choosing the statistics stripe.
size_t stripe_index() {
    static std::atomic<size_t> next{0};
    thread_local const size_t mine = next.fetch_add(1, std::memory_order_relaxed);
    return mine % PrefixIndex::kStripes;
}

}  // namespace

struct alignas(64) PrefixIndex::Shard {
    std::mutex mu;
    boost::unordered_flat_map<uint64_t, Holders, Avalanched> map;
};

// One endpoint's blocks, most recently used first: a doubly linked list
// over a slot vector (grows to the capacity, then the tail slot is reused).
struct PrefixIndex::EndpointLru {
    struct Node {
        uint64_t hash;
        uint32_t prev, next;
    };
    explicit EndpointLru(size_t cap) : capacity(cap) {}

    void unlink(uint32_t s) {
        Node& n = nodes[s];
        (n.prev == kNil ? head : nodes[n.prev].next) = n.next;
        (n.next == kNil ? tail : nodes[n.next].prev) = n.prev;
    }
    void push_front(uint32_t s) {
        Node& n = nodes[s];
        n.prev = kNil;
        n.next = head;
        (head == kNil ? tail : nodes[head].prev) = s;
        head = s;
    }

    std::mutex mu;
    const size_t capacity;
    bool removed = false;  // set by remove_endpoint: adds racing it stop
    std::vector<Node> nodes;
    boost::unordered_flat_map<uint64_t, uint32_t, Avalanched> pos;  // hash -> slot
    uint32_t head = kNil, tail = kNil;
    std::atomic<uint64_t> size{0};  // read by the statistics without the lock
};

struct alignas(64) PrefixIndex::EndpointShard {
    std::mutex mu;
    boost::unordered_flat_map<uint32_t, std::shared_ptr<EndpointLru>> lrus;
};

struct alignas(64) PrefixIndex::Stripe {
    std::atomic<uint64_t> lookups{0}, hits{0}, matched_blocks{0}, total_blocks{0};
    std::array<std::atomic<uint64_t>, 11> buckets{};
    std::atomic<double> ratio_sum{0};
};

PrefixIndex::PrefixIndex() {
    for (auto& s : shards_) s = std::make_unique<Shard>();
    for (auto& s : endpoints_) s = std::make_unique<EndpointShard>();
    for (auto& s : stripes_) s = std::make_unique<Stripe>();
}

PrefixIndex::~PrefixIndex() = default;

void PrefixIndex::match(std::span<const uint64_t> hashes, std::span<EndpointState* const> candidates,
                        std::span<uint32_t> matched) const {
    std::fill(matched.begin(), matched.end(), 0u);
    if (hashes.empty() || candidates.empty()) return;
    // Blocks are usually held by a few endpoints: count blocks per holder
    // uid in a short local array, and map it to the candidates once at the
    // end (holders may be endpoints filtered out of this pick). Only when
    // more than kFewHolders endpoints hold the prefix (a common system
    // prompt) is the per-worker uid -> candidate table built, and then the
    // walk starts over with it: building it for every pick made the
    // 64-endpoint decision 3x slower (picker_bench: 2.5 -> 7.9 us). Nothing
    // is built or allocated while a shard mutex is held.
    constexpr size_t kFewHolders = 16;
    std::array<std::pair<uint32_t, uint32_t>, kFewHolders> counts;  // (uid, blocks)
    size_t nc = 0;
    bool overflow = false;
    for (const uint64_t h : hashes) {
        Shard& s = shard(h);
        std::lock_guard lock(s.mu);
        const auto it = s.map.find(h);
        if (it == s.map.end()) break;
        for (const uint32_t uid : it->second) {
            size_t k = 0;
            while (k < nc && counts[k].first != uid) ++k;
            if (k < nc) {
                ++counts[k].second;
            } else if (nc < kFewHolders) {
                counts[nc++] = {uid, 1};
            } else {
                overflow = true;
                break;
            }
        }
        if (overflow) break;
    }
    if (!overflow) {
        for (size_t i = 0; i < candidates.size(); ++i) {
            const uint32_t uid = candidates[i]->uid();
            for (size_t k = 0; k < nc; ++k)
                if (counts[k].first == uid) matched[i] = counts[k].second;
        }
        return;
    }
    thread_local UidTable table;
    table.build(candidates);
    for (const uint64_t h : hashes) {
        Shard& s = shard(h);
        std::lock_guard lock(s.mu);
        const auto it = s.map.find(h);
        if (it == s.map.end()) break;
        for (const uint32_t uid : it->second)
            if (const uint32_t i = table.find(uid); i != kNil) ++matched[i];
    }
}

void PrefixIndex::drop_holder(uint64_t hash, uint32_t uid) {
    Shard& s = shard(hash);
    std::lock_guard lock(s.mu);
    const auto it = s.map.find(hash);
    if (it == s.map.end()) return;
    Holders& hs = it->second;
    const auto u = std::find(hs.begin(), hs.end(), uid);
    if (u == hs.end()) return;
    *u = hs.back();
    hs.pop_back();
    if (hs.empty()) s.map.erase(it);
}

std::shared_ptr<PrefixIndex::EndpointLru> PrefixIndex::find_or_create(uint32_t uid, size_t capacity) {
    EndpointShard& es = *endpoints_[uid % kEndpointShards];
    {
        std::lock_guard lock(es.mu);
        const auto it = es.lrus.find(uid);
        if (it != es.lrus.end()) return it->second;
    }
    // Starting to track an endpoint (rare): under the allowed-set mutex,
    // taken before the shard's (the lock order), so that a retain running
    // now either sees the new LRU or has already refused the endpoint.
    std::lock_guard al(allowed_mu_);
    if (restricted_ && !std::binary_search(allowed_.begin(), allowed_.end(), uid)) return nullptr;
    std::lock_guard lock(es.mu);
    auto& slot = es.lrus[uid];
    if (!slot) slot = std::make_shared<EndpointLru>(capacity);  // else created since we looked
    return slot;
}

void PrefixIndex::add(uint32_t uid, size_t capacity, std::span<const uint64_t> hashes) {
    if (hashes.empty() || capacity == 0) return;
    // The shared_ptr keeps the LRU alive if remove_endpoint races this add;
    // its `removed` flag, read under the LRU's lock, stops the add.
    const std::shared_ptr<EndpointLru> keep = find_or_create(uid, capacity);
    if (!keep) return;  // not in the pool any more (retain)
    EndpointLru& lru = *keep;
    std::lock_guard lock(lru.mu);
    if (lru.removed) return;
    for (size_t k = hashes.size(); k-- > 0;) {
        const uint64_t h = hashes[k];
        if (const auto it = lru.pos.find(h); it != lru.pos.end()) {
            if (lru.head != it->second) {
                lru.unlink(it->second);
                lru.push_front(it->second);
            }
            continue;
        }
        uint32_t slot;
        if (lru.nodes.size() < lru.capacity) {
            slot = uint32_t(lru.nodes.size());
            lru.nodes.push_back({});
        } else {
            slot = lru.tail;  // evict the least recently used block
            lru.unlink(slot);
            const uint64_t victim = lru.nodes[slot].hash;
            lru.pos.erase(victim);
            drop_holder(victim, uid);
        }
        lru.nodes[slot].hash = h;
        lru.push_front(slot);
        lru.pos.emplace(h, slot);
        Shard& s = shard(h);
        std::lock_guard sl(s.mu);
        s.map[h].push_back(uid);  // not there: the LRU did not hold h
    }
    lru.size.store(lru.pos.size(), std::memory_order_relaxed);
}

void PrefixIndex::remove_endpoint(uint32_t uid) {
    std::shared_ptr<EndpointLru> lru;
    {
        EndpointShard& es = *endpoints_[uid % kEndpointShards];
        std::lock_guard lock(es.mu);
        const auto it = es.lrus.find(uid);
        if (it == es.lrus.end()) return;
        lru = std::move(it->second);
        es.lrus.erase(it);
    }
    std::lock_guard lock(lru->mu);
    lru->removed = true;
    for (const auto& [hash, slot] : lru->pos) drop_holder(hash, uid);
    lru->pos.clear();
    lru->nodes.clear();
    lru->nodes.shrink_to_fit();
    lru->head = lru->tail = kNil;
    lru->size.store(0, std::memory_order_relaxed);
}

void PrefixIndex::retain(uint64_t generation, std::span<const uint32_t> uids) {
    // Held throughout: the generation check, the new allowed set and the
    // pruning are one step with respect to other retains and to endpoints
    // starting to be tracked (find_or_create), which wait for the pruning:
    // rare (a first add of an endpoint during the first request after a
    // reload that removed endpoints).
    std::lock_guard al(allowed_mu_);
    if (restricted_ && generation < applied_generation_) return;  // an older configuration's
    applied_generation_ = generation;
    allowed_.assign(uids.begin(), uids.end());
    std::sort(allowed_.begin(), allowed_.end());
    restricted_ = true;
    std::vector<uint32_t> gone;
    for (const auto& es : endpoints_) {
        std::lock_guard lock(es->mu);
        for (const auto& [uid, lru] : es->lrus)
            if (!std::binary_search(allowed_.begin(), allowed_.end(), uid)) gone.push_back(uid);
    }
    for (const uint32_t uid : gone) remove_endpoint(uid);
}

uint64_t PrefixIndex::size_blocks() const {
    uint64_t n = 0;
    for (const auto& es : endpoints_) {
        std::lock_guard lock(es->mu);
        for (const auto& [uid, lru] : es->lrus) n += lru->size.load(std::memory_order_relaxed);
    }
    return n;
}

uint64_t PrefixIndex::endpoint_blocks(uint32_t uid) const {
    EndpointShard& es = *endpoints_[uid % kEndpointShards];
    std::lock_guard lock(es.mu);
    const auto it = es.lrus.find(uid);
    return it == es.lrus.end() ? 0 : it->second->size.load(std::memory_order_relaxed);
}

size_t PrefixIndex::endpoint_count() const {
    size_t n = 0;
    for (const auto& es : endpoints_) {
        std::lock_guard lock(es->mu);
        n += es->lrus.size();
    }
    return n;
}

uint64_t PrefixIndex::distinct_blocks() const {
    uint64_t n = 0;
    for (const auto& s : shards_) {
        std::lock_guard lock(s->mu);
        n += s->map.size();
    }
    return n;
}

void PrefixIndex::record_decision(uint32_t total_blocks, uint32_t matched_blocks) {
    if (total_blocks == 0) return;  // as the reference: no ratio without a prompt
    Stripe& st = *stripes_[stripe_index()];
    const double ratio = double(matched_blocks) / double(total_blocks);
    // Bucket k holds ratios in ((k-1)/10, k/10]; bucket 0 holds exactly 0.
    size_t k = 0;
    while (k < 10 && ratio > double(k) / 10.0 + 1e-12) ++k;
    st.lookups.fetch_add(1, std::memory_order_relaxed);
    if (matched_blocks > 0) st.hits.fetch_add(1, std::memory_order_relaxed);
    st.matched_blocks.fetch_add(matched_blocks, std::memory_order_relaxed);
    st.total_blocks.fetch_add(total_blocks, std::memory_order_relaxed);
    st.buckets[k].fetch_add(1, std::memory_order_relaxed);
    st.ratio_sum.fetch_add(ratio, std::memory_order_relaxed);
}

PrefixIndex::Counters PrefixIndex::counters() const {
    Counters c;
    for (const auto& st : stripes_) {
        c.lookups += st->lookups.load(std::memory_order_relaxed);
        c.hits += st->hits.load(std::memory_order_relaxed);
        c.matched_blocks += st->matched_blocks.load(std::memory_order_relaxed);
        c.total_blocks += st->total_blocks.load(std::memory_order_relaxed);
        for (size_t k = 0; k < c.ratio_buckets.size(); ++k)
            c.ratio_buckets[k] += st->buckets[k].load(std::memory_order_relaxed);
        c.ratio_sum += st->ratio_sum.load(std::memory_order_relaxed);
    }
    return c;
}

}  // namespace infergate::picker
