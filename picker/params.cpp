// ParamReader and the small text helpers used for config diagnostics.
#include "picker/params.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace infergate::picker {

config::Mark with_file(config::Mark mark, const std::string& file) {
    if (mark.file.empty()) mark.file = file;
    return mark;
}

ParamReader::ParamReader(const config::PluginSpec& spec, const std::string& file,
                         std::vector<config::ConfigError>& errors)
    : ParamReader(spec.parameters, spec.mark, plugin_name(spec), spec.type, "", file, errors) {}

ParamReader::ParamReader(const config::Node& params, const config::Mark& mark, std::string plugin,
                         std::string type, std::string prefix, const std::string& file,
                         std::vector<config::ConfigError>& errors)
    : params_(params),
      mark_(mark),
      plugin_(std::move(plugin)),
      type_(std::move(type)),
      prefix_(std::move(prefix)),
      file_(file),
      errors_(errors),
      errors_at_start_(errors.size()) {
    using Kind = config::Node::Kind;
    is_map_ = params.kind == Kind::map;
    if (is_map_) used_.assign(params.entries.size(), false);
    else if (params.kind != Kind::null)
        error(params.mark, prefix_.empty()
                               ? fmt::format("parameters of plugin '{}' must be a map", plugin_)
                               : fmt::format("parameter '{}' of plugin '{}' must be a map",
                                             prefix_.substr(0, prefix_.size() - 1), plugin_));
}

ParamReader ParamReader::nested(const config::Node& node, std::string_view label) {
    return ParamReader(node, node.mark, plugin_, type_, fmt::format("{}{}.", prefix_, label), file_, errors_);
}

ParamReader ParamReader::object(std::string_view key) {
    static const config::Node kAbsent;
    const config::Node* n = value(key);
    return ParamReader(n ? *n : kAbsent, n ? n->mark : mark_, plugin_, type_,
                       fmt::format("{}{}.", prefix_, key), file_, errors_);
}

std::chrono::nanoseconds ParamReader::duration(std::string_view key, std::chrono::nanoseconds fallback,
                                               std::chrono::nanoseconds bare_unit) {
    const config::Node* n = value(key);
    if (!n) return fallback;
    auto bad = [&] {
        error(n->mark, fmt::format("{} must be a positive duration such as \"200ms\" or \"1.5s\"", where(key)));
        return fallback;
    };
    if (n->kind != config::Node::Kind::scalar) return bad();
    std::string_view s = n->scalar;
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || !std::isfinite(v) || v <= 0) return bad();
    const std::string_view unit(end, static_cast<size_t>(s.data() + s.size() - end));
    double ns = 0;
    if (unit.empty() && !n->quoted) ns = v * static_cast<double>(bare_unit.count());
    else if (unit == "ns") ns = v;
    else if (unit == "us" || unit == "Âµs") ns = v * 1e3;
    else if (unit == "ms") ns = v * 1e6;
    else if (unit == "s") ns = v * 1e9;
    else if (unit == "m") ns = v * 60e9;
    else if (unit == "h") ns = v * 3600e9;
    else return bad();
    if (ns < 1 || ns > 1e18) return bad();
    return std::chrono::nanoseconds(static_cast<int64_t>(ns));
}

void ParamReader::error(const config::Mark& mark, std::string message) {
    errors_.push_back(config::ConfigError{with_file(mark, file_), std::move(message)});
}

std::string ParamReader::where(std::string_view key) const {
    return fmt::format("parameter '{}{}' of plugin '{}'", prefix_, key, plugin_);
}

// Not config::Node::find: config's implementation may not be linked yet,
// and this also records which entries were consumed.
const config::Node* ParamReader::value(std::string_view key) {
    known_.push_back(key);
    if (!is_map_) return nullptr;
    const auto& entries = params_.entries;
    for (size_t i = 0; i < entries.size(); ++i) {
        if (entries[i].first != key) continue;
        used_[i] = true;
        return &entries[i].second;
    }
    return nullptr;
}

int64_t ParamReader::integer(std::string_view key, int64_t fallback, int64_t min, int64_t max) {
    const config::Node* n = value(key);
    if (!n) return fallback;
    std::string_view s = n->scalar;
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (n->kind != config::Node::Kind::scalar || n->quoted || s.empty() || ec != std::errc() ||
        end != s.data() + s.size()) {
        error(n->mark, fmt::format("{} must be an integer", where(key)));
        return fallback;
    }
    if (v < min || v > max) {
        error(n->mark, fmt::format("{} must be between {} and {}, got {}", where(key), min, max, v));
        return fallback;
    }
    return v;
}

double ParamReader::number(std::string_view key, double fallback, double min, double max) {
    const config::Node* n = value(key);
    if (!n) return fallback;
    std::string_view s = n->scalar;
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (n->kind != config::Node::Kind::scalar || n->quoted || s.empty() || ec != std::errc() ||
        end != s.data() + s.size() || !std::isfinite(v)) {
        error(n->mark, fmt::format("{} must be a number", where(key)));
        return fallback;
    }
    if (v < min || v > max) {
        error(n->mark, fmt::format("{} must be between {} and {}, got {}", where(key), min, max, n->scalar));
        return fallback;
    }
    return v;
}

std::string ParamReader::string(std::string_view key, std::string fallback) {
    const config::Node* n = value(key);
    if (!n) return fallback;
    if (n->kind != config::Node::Kind::scalar) {
        error(n->mark, fmt::format("{} must be a string", where(key)));
        return fallback;
    }
    return n->scalar;
}

bool ParamReader::boolean(std::string_view key, bool fallback) {
    const config::Node* n = value(key);
    if (!n) return fallback;
    if (n->kind == config::Node::Kind::scalar && !n->quoted) {
        if (n->scalar == "true") return true;
        if (n->scalar == "false") return false;
    }
    error(n->mark, fmt::format("{} must be true or false", where(key)));
    return fallback;
}

std::vector<std::string> ParamReader::string_list(std::string_view key) {
    std::vector<std::string> out;
    const config::Node* n = value(key);
    if (!n) return out;
    if (n->kind != config::Node::Kind::sequence) {
        error(n->mark, fmt::format("{} must be a list of strings", where(key)));
        return out;
    }
    for (const config::Node& item : n->items) {
        if (item.kind != config::Node::Kind::scalar) {
            error(item.mark, fmt::format("{} must be a list of strings", where(key)));
            return {};
        }
        out.push_back(item.scalar);
    }
    return out;
}

void ParamReader::finish() {
    if (!is_map_) return;
    const auto& p = params_;
    for (size_t i = 0; i < p.entries.size(); ++i) {
        if (used_[i]) continue;
        const std::string& key = p.entries[i].first;
        const config::Mark& mark = i < p.key_marks.size() ? p.key_marks[i] : p.entries[i].second.mark;
        std::string msg = fmt::format("unknown parameter '{}{}' for plugin '{}' (type '{}')", prefix_, key,
                                      plugin_, type_);
        if (const auto near = closest_name(key, known_); !near.empty())
            msg += fmt::format(" (did you mean '{}'?)", near);
        else if (known_.empty())
            msg += "; it takes no parameters";
        error(mark, std::move(msg));
    }
}

size_t edit_distance(std::string_view a, std::string_view b) {
    // Two-row dynamic programme; names are short, so the rows are too.
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string_view closest_name(std::string_view word, const std::vector<std::string_view>& names) {
    std::string_view best;
    size_t best_d = static_cast<size_t>(-1);
    for (std::string_view n : names) {
        const size_t d = edit_distance(word, n);
        if (d < best_d) {
            best_d = d;
            best = n;
        }
    }
    const size_t limit = std::max<size_t>(2, word.size() / 3);
    return best_d <= limit ? best : std::string_view{};
}

}  // namespace infergate::picker
