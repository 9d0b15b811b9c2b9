// Typed readers over config::Node; see reader.hpp.
#include "config/reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "config/values.hpp"

namespace infergate::config {

std::string child_path(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::string index_path(const std::string& path, size_t i) { return fmt::format("{}[{}]", path, i); }

std::string describe(const Node& n) {
    switch (n.kind) {
        case Node::Kind::null: return "nothing (null)";
        case Node::Kind::sequence: return "a list";
        case Node::Kind::map: return "a map";
        case Node::Kind::scalar: break;
    }
    std::string s = n.scalar.size() > 40 ? n.scalar.substr(0, 40) + "..." : n.scalar;
    return n.quoted ? fmt::format("the quoted string \"{}\"", s) : fmt::format("'{}'", s);
}

MapReader::MapReader(Diag& d, const Node& n, std::string path)
    : d_(d), node_(n), path_(std::move(path)), ok_(n.kind == Node::Kind::map) {
    if (!ok_) d_.error(n.mark, fmt::format("{} must be a map, got {}", path_.empty() ? "the config" : path_, describe(n)));
}

const Node* MapReader::get(std::string_view key) {
    known_.emplace_back(key);
    return ok_ ? node_.find(std::string(key)) : nullptr;
}

const Node* MapReader::require(std::string_view key) {
    const Node* n = get(key);
    if (!n && ok_)
        d_.error(node_.mark, path_.empty() ? fmt::format("missing required key '{}'", key)
                                           : fmt::format("missing required key '{}' in {}", key, path_));
    return n;
}

void MapReader::finish() {
    if (!ok_) return;
    for (size_t i = 0; i < node_.entries.size(); ++i) {
        const std::string& key = node_.entries[i].first;
        if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
        std::string msg = path_.empty() ? fmt::format("unknown key '{}' at the top level", key)
                                        : fmt::format("unknown key '{}' in {}", key, path_);
        std::string near = nearest(key, known_);
        if (!near.empty()) msg += fmt::format("; did you mean '{}'?", near);
        d_.error(node_.key_marks[i], std::move(msg));
    }
}

std::optional<std::string> read_string(Diag& d, const Node& n, const std::string& path, bool allow_empty) {
    if (n.kind != Node::Kind::scalar) {
        d.error(n.mark, fmt::format("{} must be a string, got {}", path, describe(n)));
        return std::nullopt;
    }
    if (n.scalar.empty() && !allow_empty) {
        d.error(n.mark, fmt::format("{} must not be empty", path));
        return std::nullopt;
    }
    return n.scalar;
}

std::optional<uint64_t> read_uint(Diag& d, const Node& n, const std::string& path, uint64_t min, uint64_t max) {
    std::optional<uint64_t> v;
    if (n.kind == Node::Kind::scalar && !n.quoted) v = parse_uint(n.scalar);
    if (!v) {
        std::string extra;
        if (n.kind == Node::Kind::scalar && !n.quoted && !n.scalar.empty() && n.scalar.front() == '-')
            extra = " (negative numbers are not allowed)";
        else if (n.kind == Node::Kind::scalar && n.quoted && parse_uint(n.scalar))
            extra = " (remove the quotes)";
        d.error(n.mark, fmt::format("{} must be an integer from {} to {}, got {}{}", path, min, max, describe(n), extra));
        return std::nullopt;
    }
    if (*v < min || *v > max) {
        d.error(n.mark, fmt::format("{} must be an integer from {} to {}, got {}", path, min, max, *v));
        return std::nullopt;
    }
    return v;
}

std::optional<double> read_number(Diag& d, const Node& n, const std::string& path, double min) {
    double v = 0;
    bool ok = false;
    if (n.kind == Node::Kind::scalar && !n.quoted && !n.scalar.empty()) {
        const char* b = n.scalar.data();
        const char* e = b + n.scalar.size();
        auto [p, ec] = std::from_chars(b, e, v);
        ok = ec == std::errc() && p == e && std::isfinite(v);
    }
    if (!ok) {
        d.error(n.mark, fmt::format("{} must be a number, got {}", path, describe(n)));
        return std::nullopt;
    }
    if (v < min) {
        d.error(n.mark, fmt::format("{} must be at least {}, got {}", path, min, n.scalar));
        return std::nullopt;
    }
    return v;
}

std::optional<bool> read_bool(Diag& d, const Node& n, const std::string& path) {
    if (n.kind == Node::Kind::scalar && !n.quoted) {
        if (n.scalar == "true") return true;
        if (n.scalar == "false") return false;
    }
    d.error(n.mark, fmt::format("{} must be true or false, got {}", path, describe(n)));
    return std::nullopt;
}

std::optional<Duration> read_duration(Diag& d, const Node& n, const std::string& path, Duration min) {
    if (n.kind != Node::Kind::scalar) {
        d.error(n.mark, fmt::format("{} must be a duration such as '4s', got {}", path, describe(n)));
        return std::nullopt;
    }
    std::string why;
    auto v = parse_duration(n.scalar, why);
    if (!v) {
        d.error(n.mark, fmt::format("{}: {}", path, why));
        return std::nullopt;
    }
    if (*v < min) {
        d.error(n.mark, fmt::format("{} must be at least {}ms, got '{}'", path, min.count(), n.scalar));
        return std::nullopt;
    }
    return v;
}

std::optional<Address> read_address(Diag& d, const Node& n, const std::string& path, bool allow_port_zero) {
    auto s = read_string(d, n, path);
    if (!s) return std::nullopt;
    std::string why;
    auto a = parse_address(*s, allow_port_zero, why);
    if (!a) d.error(n.mark, fmt::format("{}: {}", path, why));
    return a;
}

std::optional<std::string> read_name(Diag& d, const Node& n, const std::string& path) {
    auto s = read_string(d, n, path);
    if (!s) return std::nullopt;
    for (char c : *s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                  c == '.';
        if (!ok) {
            d.error(n.mark, fmt::format("{} '{}' may only hold letters, digits, '-', '_' and '.'", path, *s));
            return std::nullopt;
        }
    }
    return s;
}

void check_unique(Diag& d, SeenNames& seen, const std::string& name, const Mark& mark, const std::string& path,
                  std::string_view what) {
    for (const auto& [n, m] : seen) {
        if (n != name) continue;
        d.error(mark, fmt::format("{}: duplicate {} '{}' (first at line {}, column {})", path, what, name, m.line, m.col));
        return;
    }
    seen.emplace_back(name, mark);
}

bool expect_list(Diag& d, const Node& n, const std::string& path) {
    if (n.kind == Node::Kind::sequence) return true;
    d.error(n.mark, fmt::format("{} must be a list, got {}", path, describe(n)));
    return false;
}

}  // namespace infergate::config
