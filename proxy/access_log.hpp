// The access log: one JSON line per request, to stdout, a file, or off.
//
// Thread-safety: write() may be called from every worker at once; each
// line goes out in one write(2) on an O_APPEND descriptor, so lines never
// interleave. reopen() (SIGUSR1, for logrotate) swaps the descriptor;
// a worker writing at that moment finishes on the old one, which is
// closed when its last user lets go.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

namespace infergate::proxy {

class AccessLog {
public:
    // "stdout", "off" or a path. Returns false (and keeps the old target)
    // if the file cannot be opened; `error` then says why.
    bool open(const std::string& target, std::string& error);
    bool reopen(std::string& error);
    bool enabled() const;
    void write(std::string_view line) const;

private:
    struct Fd {
        int fd = -1;
        bool owned = false;
        ~Fd();
    };
    std::string target_;
    std::atomic<std::shared_ptr<const Fd>> fd_;
};

}  // namespace infergate::proxy
