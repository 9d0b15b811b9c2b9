// Shared helpers for the config unit tests.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "config/loader.hpp"

namespace cfgtest {

using namespace infergate::config;

inline LoadResult load(const std::string& text) { return load_config_string(text, "t.yaml"); }

inline std::string all_errors(const LoadResult& r) {
    std::string s;
    for (const auto& e : r.errors) s += e.to_string() + "\n";
    return s;
}

// Smallest valid config: one listener, nothing else.
inline const std::string listener = "listeners:\n  - name: main\n    address: 127.0.0.1:0\n";

// A valid config with one route r -> pool p; `route_extra` and `pool_extra`
// are appended as keys of the route (indent 4) and the pool (indent 4).
inline std::string with(const std::string& route_extra, const std::string& pool_extra) {
    return listener +
           "routes:\n"
           "  - name: r\n"
           "    backends:\n"
           "      - pool: p\n" +
           route_extra +
           "pools:\n"
           "  - name: p\n"
           "    endpoints:\n"
           "      - address: 127.0.0.1:8001\n" +
           pool_extra;
}
inline std::string with_pool(const std::string& extra) { return with("", extra); }
inline std::string with_route(const std::string& extra) { return with(extra, ""); }

// The load fails and one error message contains `needle`; returns that error.
inline ConfigError expect_error(const std::string& yaml, std::string_view needle) {
    LoadResult r = load(yaml);
    INFO("yaml:\n" << yaml << "errors:\n" << all_errors(r));
    CHECK_FALSE(r.ok());
    CHECK(r.config == nullptr);
    for (const auto& e : r.errors)
        if (e.message.find(needle) != std::string::npos) return e;
    FAIL_CHECK("no error contains: " << needle);
    return {};
}

inline LoadResult expect_ok(const std::string& yaml) {
    LoadResult r = load(yaml);
    INFO("yaml:\n" << yaml << "errors:\n" << all_errors(r));
    CHECK(r.ok());
    REQUIRE(r.config != nullptr);
    return r;
}

}  // namespace cfgtest
