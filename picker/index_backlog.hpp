// The prefix-index insertions a worker has not made yet: the part of a long
// prompt's block chain that is recorded after its request went upstream.
//
// Why: recording a decision (the reference's PreRequest: every block of the
// chosen endpoint's chain into its LRU, evicting as many) is the costliest
// step of a pick for long prompts. For a unique 220 KB prompt it is 859
// blocks, and under steady eviction it took about 60 % of infergate's CPU
// per request in the large-prompt benchmark (perf: PrefixIndex::add and
// drop_holder, ~1.3 ms; bench scenario 2). Done inside the pick, it sat
// between the request's last byte and its first byte upstream, and, run as
// one handler, it held up every other connection of the worker that long.
//
// So a decision records at once only the chain's head, kSyncBlocks blocks
// (8192 tokens at the 64-token minimum block: a system prompt and the start
// of a conversation, which is what a request arriving right behind this one
// shares with it, e.g. a burst on one prefix). The rest is queued here and
// the worker applies it in slices of at most a budget of blocks between
// its other handlers (proxy/worker.cpp). The approximate index lags the
// decisions by a few handler turns for the tails of long prompts, never for
// their heads; the engines' own caches hold those blocks only once
// prefilled, later still.
//
// The LRU order stays the one a synchronous add gives (the head most
// recent, PrefixIndex::add): the tail is inserted from its end backwards in
// slices, and the head is touched again when the entry completes.
//
// Bounded: beyond kMaxBlocks queued blocks a decision records its whole
// chain at once, as before (the backlog only holds what the worker has not
// had a turn for; a worker that falls this far behind is saturated anyway).
//
// One per thread (mine()): pickers run on worker threads, each with its own
// backlog; nothing here is shared between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace infergate::picker {

class PrefixIndex;

class IndexBacklog {
public:
    // Blocks of a chain recorded at decision time; the rest may wait.
    static constexpr size_t kSyncBlocks = 128;
    // The most blocks waiting per thread: 64 Ki blocks, 512 KiB of hashes,
    // about 75 prompts of 220 KB.
    static constexpr size_t kMaxBlocks = 64 * 1024;

    // This thread's backlog.
    static IndexBacklog& mine();

    // Records the decision "endpoint `uid` now holds `hashes`" in `index`:
    // the head at once, the rest queued. The index is kept alive by the
    // entry (a reload may drop the producer that owns it meanwhile).
    void record(const std::shared_ptr<PrefixIndex>& index, uint32_t uid, size_t capacity,
                std::span<const uint64_t> hashes);

    bool pending() const { return head_ < tail_; }
    size_t pending_blocks() const { return pending_blocks_; }

    // Applies up to `budget` queued blocks, the oldest entry first (plus
    // the head touch of each entry it completes); returns the blocks
    // applied.
    size_t run(size_t budget);

private:
    struct Entry {
        std::shared_ptr<PrefixIndex> index;
        uint32_t uid = 0;
        size_t capacity = 0;
        std::vector<uint64_t> hashes;  // the whole chain
        size_t left = 0;               // hashes[kSyncBlocks, left) still to insert
    };
    // A queue in a vector: [head_, tail_) waiting; the other slots keep
    // their vectors' storage for reuse, so a warm backlog allocates nothing.
    std::vector<Entry> entries_;
    size_t head_ = 0, tail_ = 0;
    size_t pending_blocks_ = 0;
};

}  // namespace infergate::picker
