#include "proxy/access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace infergate::proxy {

AccessLog::Fd::~Fd() {
    if (owned && fd >= 0) ::close(fd);
}

bool AccessLog::open(const std::string& target, std::string& error) {
    auto fd = std::make_shared<Fd>();
    if (target == "stdout") {
        fd->fd = STDOUT_FILENO;
    } else if (target != "off") {
        fd->fd = ::open(target.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd->fd < 0) {
            error = "cannot open access log '" + target + "': " + std::strerror(errno);
            return false;
        }
        fd->owned = true;
    }
    target_ = target;
    fd_.store(std::move(fd));
    return true;
}

bool AccessLog::reopen(std::string& error) { return open(target_, error); }

bool AccessLog::enabled() const {
    auto fd = fd_.load();
    return fd && fd->fd >= 0;
}

void AccessLog::write(std::string_view line) const {
    auto fd = fd_.load();
    if (!fd || fd->fd < 0) return;
    // One write per line; a short write on a pipe or full disk loses the
    // rest of the line rather than blocking the worker.
    ssize_t r = ::write(fd->fd, line.data(), line.size());
    (void)r;
}

}  // namespace infergate::proxy
