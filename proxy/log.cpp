#include "proxy/log.hpp"

#include <unistd.h>

#include <ctime>
#include <string>

namespace infergate::proxy {

void log_line(std::string_view level, std::string_view message) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    std::tm tm{};
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string line = fmt::format("{}.{:03d}Z {} {}\n", when, ts.tv_nsec / 1000000, level, message);
    ssize_t r = ::write(STDERR_FILENO, line.data(), line.size());
    (void)r;
}

}  // namespace infergate::proxy
