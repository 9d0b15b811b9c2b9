// Helpers that read config::Node values into typed fields while collecting
// every error (never stopping at the first). Internal to config/.
//
// Paths name where a value sits, e.g. "pools[0].endpoints[1].address"; they
// are what error messages call the key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/loader.hpp"

namespace infergate::config {

// Collects errors in the order they are found.
struct Diag {
    std::vector<ConfigError>& errors;
    void error(const Mark& mark, std::string message) { errors.push_back({mark, std::move(message)}); }
};

std::string child_path(const std::string& path, std::string_view key);  // "a.b"
std::string index_path(const std::string& path, size_t i);               // "a[3]"
// "a map", "a list", "nothing (null)", "'text'".
std::string describe(const Node& n);

// Reads one map. Every key asked for through get()/require() is "known";
// finish() reports the others as unknown, suggesting the nearest known key.
class MapReader {
public:
    // Reports "<path> must be a map" when `n` is not a map; ok() is then false.
    MapReader(Diag& d, const Node& n, std::string path);
    bool ok() const { return ok_; }
    const Node& node() const { return node_; }
    const std::string& path() const { return path_; }
    std::string path(std::string_view key) const { return child_path(path_, key); }

    const Node* get(std::string_view key);      // nullptr when absent
    const Node* require(std::string_view key);  // reports "missing required key"
    void finish();                              // reports unknown keys

private:
    Diag& d_;
    const Node& node_;
    std::string path_;
    bool ok_;
    std::vector<std::string> known_;
};

// Typed readers: on failure they report at the value's mark and return
// nullopt (or false). `path` names the key in messages.
std::optional<std::string> read_string(Diag& d, const Node& n, const std::string& path, bool allow_empty = false);
std::optional<uint64_t> read_uint(Diag& d, const Node& n, const std::string& path, uint64_t min, uint64_t max);
std::optional<double> read_number(Diag& d, const Node& n, const std::string& path, double min);
// YAML's unquoted true/false.
std::optional<bool> read_bool(Diag& d, const Node& n, const std::string& path);
std::optional<Duration> read_duration(Diag& d, const Node& n, const std::string& path, Duration min);
std::optional<Address> read_address(Diag& d, const Node& n, const std::string& path, bool allow_port_zero);
// A name used as an identifier (metric labels, references): [A-Za-z0-9_.-]+.
std::optional<std::string> read_name(Diag& d, const Node& n, const std::string& path);
bool expect_list(Diag& d, const Node& n, const std::string& path);

// Names seen so far in one scope (listeners, pools, ...), with their marks.
using SeenNames = std::vector<std::pair<std::string, Mark>>;
// Reports "<path>: duplicate <what> '<name>' (first at line L, column C)"
// when `name` was seen before; records it otherwise.
void check_unique(Diag& d, SeenNames& seen, const std::string& name, const Mark& mark, const std::string& path,
                  std::string_view what);

// Convenience: the value of `key` in `r` when present, else nothing happens.
template <typename T, typename F>
void read_opt(MapReader& r, std::string_view key, T& out, F&& read) {
    if (const Node* n = r.get(key))
        if (auto v = read(*n, r.path(key))) out = static_cast<T>(*v);
}

}  // namespace infergate::config
