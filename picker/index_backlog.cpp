// Deferred prefix-index insertion; see index_backlog.hpp for why.
#include "picker/index_backlog.hpp"

#include <algorithm>

#include "picker/prefix_index.hpp"

namespace infergate::picker {

IndexBacklog& IndexBacklog::mine() {
    thread_local IndexBacklog backlog;
    return backlog;
}

void IndexBacklog::record(const std::shared_ptr<PrefixIndex>& index, uint32_t uid, size_t capacity,
                          std::span<const uint64_t> hashes) {
    const size_t later = hashes.size() > kSyncBlocks ? hashes.size() - kSyncBlocks : 0;
    if (later == 0 || pending_blocks_ + later > kMaxBlocks) {
        index->add(uid, capacity, hashes);
        return;
    }
    index->add(uid, capacity, hashes.first(kSyncBlocks));
    if (tail_ == entries_.size()) {
        if (head_ > 0) {  // move the waiting entries to the front, keep the storage of the rest
            std::rotate(entries_.begin(), entries_.begin() + ptrdiff_t(head_), entries_.end());
            tail_ -= head_;
            head_ = 0;
        }
        if (tail_ == entries_.size()) entries_.emplace_back();
    }
    Entry& e = entries_[tail_++];
    e.index = index;
    e.uid = uid;
    e.capacity = capacity;
    e.hashes.assign(hashes.begin(), hashes.end());
    e.left = hashes.size();
    pending_blocks_ += later;
}

size_t IndexBacklog::run(size_t budget) {
    size_t done = 0;
    while (head_ < tail_ && done < budget) {
        Entry& e = entries_[head_];
        // The tail from its end backwards, a slice at a time: each add()
        // inserts its slice end first, so the slices together insert the
        // tail in the order one add() of the whole chain would.
        const size_t n = std::min(budget - done, e.left - kSyncBlocks);
        e.index->add(e.uid, e.capacity, std::span<const uint64_t>(e.hashes).subspan(e.left - n, n));
        e.left -= n;
        done += n;
        pending_blocks_ -= n;
        if (e.left > kSyncBlocks) break;  // budget spent
        // Complete: the head, recorded first, becomes the most recent
        // again (blocks already held are only moved to the front).
        e.index->add(e.uid, e.capacity, std::span<const uint64_t>(e.hashes).first(kSyncBlocks));
        e.index.reset();
        ++head_;
    }
    if (head_ == tail_) head_ = tail_ = 0;
    return done;
}

}  // namespace infergate::picker
