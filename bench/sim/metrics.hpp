// vLLM-compatible Prometheus text (format 0.0.4) for GET /metrics.
// Names, labels and number formatting follow what vLLM's V1 engine
// (prometheus_client) emits, so the proxy's scraper reads the simulator
// exactly as it reads a real replica.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bench/sim/config.hpp"
#include "bench/sim/engine.hpp"

namespace infergate::sim {

// Test overrides set through POST /sim/load.
struct LoadOverride {
    std::uint32_t waiting = 0;         // added to the real value
    std::uint32_t running = 0;         // added to the real value
    std::optional<double> kv_usage;    // replaces the real value
};

// Formats a double like prometheus_client (Python repr, with its
// "1.7e+09" rule for large values): 0 -> "0.0", 0.5 -> "0.5".
std::string prom_number(double v);

std::string render_metrics(const EngineConfig& cfg, const Engine& engine,
                           const LoadOverride& load, double unix_time);

}  // namespace infergate::sim
