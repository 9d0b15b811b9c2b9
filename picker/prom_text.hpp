// Parsing the Prometheus text exposition format (version 0.0.4) that
// vLLM and SGLang serve on /metrics, and extracting the signals the
// picker scores.
//
// The input is untrusted bytes from the network: parsing never throws,
// never reads past the input, and skips lines it cannot understand.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "picker/endpoint.hpp"

namespace infergate::picker {

struct Sample {
    std::string name;
    std::vector<std::pair<std::string, std::string>> labels;  // unescaped
    double value = 0;  // NaN, +Inf and -Inf parsed as such
};

struct ParsedMetrics {
    std::vector<Sample> samples;  // in input order; comments dropped
    // First sample with this exact name, or nullptr.
    const Sample* find(std::string_view name) const;
};

ParsedMetrics parse_prometheus_text(std::string_view text);

// The engine's signals from one scrape:
//  vllm:   vllm:num_requests_waiting, vllm:num_requests_running,
//          vllm:kv_cache_usage_perc (fallback vllm:gpu_cache_usage_perc)
//  sglang: sglang:num_queue_reqs, sglang:num_running_reqs, sglang:token_usage
// When several samples share a name (several model_name labels), they
// are summed (usage: the maximum). nullopt when a required metric is
// missing or not finite.
// KV capacity in tokens from vllm:cache_config_info (num_gpu_blocks x
// block_size); 0 when absent or not numeric.
double extract_vllm_kv_capacity(const ParsedMetrics& parsed);

std::optional<EngineMetrics> extract_engine_metrics(const ParsedMetrics& parsed,
                                                    config::Engine engine);

// The LoRA adapters in vllm:lora_requests_info. vLLM sets a new series
// (one per combination of label values) to the current time whenever the
// adapter lists change, and keeps the old ones, so the series with the
// largest value is the current state; among equal values the first in the
// input wins; a series whose value is not above -1 (or NaN) never does.
// From it: running_lora_adapters and waiting_lora_adapters, comma-separated
// names, each trimmed of white space, empty names skipped; max_lora, an integer
// (anything else reads as 0). No series: an empty LoraAdapters.
LoraAdapters extract_lora_adapters(const ParsedMetrics& parsed);

}  // namespace infergate::picker
