// Bodies of the /sim/* test-control endpoints (see README.md). Parsing
// only; the HTTP server applies them. Never throws.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "bench/sim/metrics.hpp"

namespace infergate::sim {

// Each takes a body with simdjson::SIMDJSON_PADDING spare capacity; an
// empty body counts as {}. False, with `error` set, on a malformed body.

// {"hold": bool}
bool parse_hold(const std::string& body, bool& hold, std::string& error);

// {"waiting": N, "running": N, "kv_usage": F|null}; omitted fields reset
// to "no override", so {} clears everything.
bool parse_load(const std::string& body, LoadOverride& out, std::string& error);

// {"response_header_ms": N}; omitted means 0.
bool parse_delay(const std::string& body, std::uint32_t& ms, std::string& error);

// TLS handshakes on the listener (all 0 when serving plain HTTP):
// completed full handshakes, completed resumed ones (session ticket or
// session id), and failed ones (each ended only its own connection).
struct TlsCounters {
    std::uint64_t full = 0, resumed = 0, failed = 0;
};

struct SimStats {
    std::uint64_t requests, running, waiting, held, completed, prefix_cache_hits,
        prefix_cache_queries;
    // Per served model name (--model), requests that named it (or none,
    // which means the first): "models":{"name":count,...}.
    std::span<const std::string> models;
    std::span<const std::uint64_t> model_requests;  // same length as models
    TlsCounters tls;  // "tls_handshakes":{"full":N,"resumed":N,"failed":N}
};
std::string stats_body(const SimStats& s);

}  // namespace infergate::sim
