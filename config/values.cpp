// Scalar value parsers; see values.hpp for the accepted forms.
#include "config/values.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace infergate::config {
namespace {

constexpr int64_t max_duration_ms = 24LL * 3600 * 1000;

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A DNS name: dot-separated labels of letters, digits and '-', not starting
// or ending with '-'. Rejects spaces, '_', '/' and other things that are
// surely typos in a host position.
bool valid_hostname(std::string_view h) {
    if (h.empty() || h.size() > 253) return false;
    size_t start = 0;
    while (start <= h.size()) {
        size_t dot = h.find('.', start);
        if (dot == std::string_view::npos) dot = h.size();
        std::string_view label = h.substr(start, dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        for (char c : label) {
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
            if (!ok) return false;
        }
        start = dot + 1;
    }
    return true;
}

bool canonical_ip(int family, const std::string& text, std::string& out, unsigned char* bytes = nullptr) {
    unsigned char buf[16];
    if (inet_pton(family, text.c_str(), buf) != 1) return false;
    char str[INET6_ADDRSTRLEN];
    if (inet_ntop(family, buf, str, sizeof str) == nullptr) return false;
    out = str;
    if (bytes) std::memcpy(bytes, buf, family == AF_INET ? 4 : 16);
    return true;
}

}  // namespace

std::optional<uint64_t> parse_uint(std::string_view text) {
    if (!all_digits(text) || text.size() > 19) return std::nullopt;
    uint64_t v = 0;
    for (char c : text) v = v * 10 + static_cast<uint64_t>(c - '0');
    return v;
}

std::optional<Duration> parse_duration(std::string_view text, std::string& why) {
    const std::string t(text);
    if (t.empty()) {
        why = "empty duration; write e.g. '50ms', '4s' or '1m'";
        return std::nullopt;
    }
    if (t.front() == '-') {
        why = fmt::format("duration '{}' must not be negative", t);
        return std::nullopt;
    }
    size_t n = 0;
    while (n < t.size() && t[n] >= '0' && t[n] <= '9') ++n;
    if (n == t.size()) {
        why = fmt::format("duration '{}' needs a unit: ms, s, m or h (e.g. '{}ms' or '{}s')", t, t, t);
        return std::nullopt;
    }
    if (n == 0) {
        why = fmt::format("'{}' is not a duration; write e.g. '50ms', '4s' or '1m'", t);
        return std::nullopt;
    }
    std::string_view unit = text.substr(n);
    int64_t scale = 0;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60 * 1000;
    else if (unit == "h") scale = 3600 * 1000;
    else {
        why = fmt::format("duration '{}' has unknown unit '{}'; use ms, s, m or h (integers only)", t, unit);
        return std::nullopt;
    }
    auto count = parse_uint(text.substr(0, n));
    if (!count || *count > static_cast<uint64_t>(max_duration_ms)
        || static_cast<int64_t>(*count) * scale > max_duration_ms) {
        why = fmt::format("duration '{}' is too long; the maximum is 1440m (24 hours)", t);
        return std::nullopt;
    }
    return Duration{static_cast<int64_t>(*count) * scale};
}

std::optional<Address> parse_address(std::string_view text, bool allow_port_zero, std::string& why) {
    const std::string t(text);
    std::string host;
    std::string port_text;
    Address a;
    if (!t.empty() && t.front() == '[') {
        size_t close = t.find(']');
        if (close == std::string::npos || close + 1 >= t.size() || t[close + 1] != ':') {
            why = fmt::format("address '{}' must look like [v6-address]:port", t);
            return std::nullopt;
        }
        host = t.substr(1, close - 1);
        port_text = t.substr(close + 2);
        if (!canonical_ip(AF_INET6, host, a.host)) {
            why = fmt::format("address '{}': '{}' is not a valid IPv6 address", t, host);
            return std::nullopt;
        }
    } else {
        size_t colon = t.rfind(':');
        if (colon == std::string::npos) {
            why = fmt::format("address '{}' has no port; write host:port, e.g. 127.0.0.1:8080", t);
            return std::nullopt;
        }
        host = t.substr(0, colon);
        port_text = t.substr(colon + 1);
        if (host.find(':') != std::string::npos) {
            why = fmt::format("address '{}': IPv6 addresses need brackets, e.g. [::1]:8080", t);
            return std::nullopt;
        }
        if (host.empty()) {
            why = fmt::format("address '{}' has no host; write host:port, e.g. 127.0.0.1:8080", t);
            return std::nullopt;
        }
        bool numeric = std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
        if (numeric) {
            if (!canonical_ip(AF_INET, host, a.host)) {
                why = fmt::format("address '{}': '{}' is not a valid IPv4 address", t, host);
                return std::nullopt;
            }
        } else if (!valid_hostname(host)) {
            why = fmt::format("address '{}': '{}' is not a valid host name", t, host);
            return std::nullopt;
        } else {
            a.host = host;
        }
    }
    auto port = parse_uint(port_text);
    if (!port || *port > 65535) {
        why = fmt::format("address '{}': port '{}' must be a number from {} to 65535", t, port_text,
                          allow_port_zero ? 0 : 1);
        return std::nullopt;
    }
    if (*port == 0 && !allow_port_zero) {
        why = fmt::format("address '{}': port 0 is not allowed here (1 to 65535)", t);
        return std::nullopt;
    }
    a.port = static_cast<uint16_t>(*port);
    return a;
}

std::optional<Cidr> parse_cidr(std::string_view text, std::string& why) {
    Cidr c;
    c.text = std::string(text);
    std::string addr = c.text;
    std::optional<uint64_t> len;
    size_t slash = addr.find('/');
    if (slash != std::string::npos) {
        len = parse_uint(std::string_view(addr).substr(slash + 1));
        addr.resize(slash);
        if (!len) {
            why = fmt::format("CIDR '{}' has a bad prefix length", c.text);
            return std::nullopt;
        }
    }
    std::string canon;
    if (canonical_ip(AF_INET, addr, canon, c.bytes)) c.v6 = false;
    else if (canonical_ip(AF_INET6, addr, canon, c.bytes)) c.v6 = true;
    else {
        why = fmt::format("CIDR '{}': '{}' is not an IPv4 or IPv6 address", c.text, addr);
        return std::nullopt;
    }
    const int max_len = c.v6 ? 128 : 32;
    if (len && *len > static_cast<uint64_t>(max_len)) {
        why = fmt::format("CIDR '{}': prefix length must be at most {}", c.text, max_len);
        return std::nullopt;
    }
    c.prefix_len = len ? static_cast<int>(*len) : max_len;
    // Any bit set past the prefix means the author meant another network.
    unsigned char masked[16];
    std::memcpy(masked, c.bytes, sizeof masked);
    bool host_bits = false;
    for (int bit = c.prefix_len; bit < max_len; ++bit) {
        unsigned char m = static_cast<unsigned char>(0x80u >> (bit % 8));
        if (masked[bit / 8] & m) {
            host_bits = true;
            masked[bit / 8] = static_cast<unsigned char>(masked[bit / 8] & ~m);
        }
    }
    if (host_bits) {
        char str[INET6_ADDRSTRLEN];
        inet_ntop(c.v6 ? AF_INET6 : AF_INET, masked, str, sizeof str);
        why = fmt::format("CIDR '{}' has host bits set; did you mean '{}/{}'?", c.text, str, c.prefix_len);
        return std::nullopt;
    }
    return c;
}

size_t edit_distance(std::string_view a, std::string_view b) {
    // Optimal string alignment: Levenshtein plus adjacent transpositions,
    // the commonest typo ("nmae" for "name") at cost 1.
    std::vector<std::vector<size_t>> m(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) m[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) m[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            m[i][j] = std::min({m[i - 1][j] + 1, m[i][j - 1] + 1, m[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                m[i][j] = std::min(m[i][j], m[i - 2][j - 2] + 1);
        }
    }
    return m[a.size()][b.size()];
}

std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
    std::string best;
    size_t best_d = 3;  // only distances 0..2 count as typos
    for (const auto& c : candidates) {
        size_t d = edit_distance(word, c);
        if (d < best_d && d * 2 < std::max(word.size(), c.size())) {
            best_d = d;
            best = c;
        }
    }
    return best;
}

}  // namespace infergate::config
