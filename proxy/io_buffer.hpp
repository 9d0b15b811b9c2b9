// 16 KiB read buffers from a per-thread free list.
//
// Every wake-up of a client connection and every upstream exchange reads
// into a 16 KiB buffer. Allocating it with malloc each time cost a few %
// of a worker (malloc, free and their bookkeeping: ~8% of a small proxied
// request went to the allocator, heaptrack counted ~45 calls per request).
// As HAProxy's pools: freed buffers go to a free list of the thread that
// frees them (a worker thread; no locks), at most kKeep of them, so an
// idle worker holds at most kKeep × 16 KiB and a parked connection none.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace infergate::proxy {

class IoBuffer {
public:
    static constexpr size_t kSize = 16 * 1024;

    IoBuffer() : p_(acquire()) {}
    ~IoBuffer() { release(p_); }
    IoBuffer(const IoBuffer&) = delete;
    IoBuffer& operator=(const IoBuffer&) = delete;

    char* get() const { return p_; }
    char& operator[](size_t i) const { return p_[i]; }

private:
    static constexpr size_t kKeep = 64;
    struct FreeList {
        std::vector<char*> v;
        ~FreeList() {
            for (char* p : v) delete[] p;
        }
    };
    static FreeList& free_list() {
        thread_local FreeList f;
        return f;
    }
    static char* acquire() {
        FreeList& f = free_list();
        if (f.v.empty()) return new char[kSize];  // not zeroed: the parser only reads what was read
        char* p = f.v.back();
        f.v.pop_back();
        return p;
    }
    static void release(char* p) {
        FreeList& f = free_list();
        if (f.v.size() < kKeep) {
            f.v.push_back(p);
            return;
        }
        delete[] p;
    }

    char* p_;
};

}  // namespace infergate::proxy
