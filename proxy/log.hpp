// Operational log lines (start, reload, drain, errors) on stderr; the
// access log is separate (access_log.hpp). One write per line.
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace infergate::proxy {

void log_line(std::string_view level, std::string_view message);

template <typename... Args>
void log_info(fmt::format_string<Args...> f, Args&&... args) {
    log_line("info", fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... args) {
    log_line("warn", fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
void log_error(fmt::format_string<Args...> f, Args&&... args) {
    log_line("error", fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace infergate::proxy
