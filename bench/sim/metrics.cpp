#include "bench/sim/metrics.hpp"

#include <cmath>

#include <fmt/format.h>

#include "bench/sim/openai.hpp"

namespace infergate::sim {

std::string prom_number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    // fmt's "{}" is the shortest round-trip form, as Python's repr, but
    // omits ".0" on integral values.
    std::string s = fmt::format("{}", v);
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    const auto dot = s.find('.');
    // prometheus_client switches to an exponent once the integral part
    // has more than 6 digits (Go's formatting).
    if (v > 0 && dot != std::string::npos && dot > 6 && s.find('e') == std::string::npos) {
        std::string mantissa = s.substr(0, 1) + "." + s.substr(1, dot - 1) + s.substr(dot + 1);
        while (!mantissa.empty() && (mantissa.back() == '0' || mantissa.back() == '.')) {
            mantissa.pop_back();
        }
        return fmt::format("{}e+{:02}", mantissa, dot - 1);
    }
    return s;
}

namespace {

void family(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void sample(std::string& out, std::string_view name, std::string_view labels, double v) {
    out += fmt::format("{}{{{}}} {}\n", name, labels, prom_number(v));
}

}  // namespace

std::string render_metrics(const EngineConfig& cfg, const Engine& engine,
                           const LoadOverride& load, double unix_time) {
    // Labels as vLLM V1 writes them (sorted): engine index, then model.
    std::string model_label;
    append_json_string(model_label, cfg.models.front());
    const std::string labels = "engine=\"0\",model_name=" + model_label;
    const EngineCounters& c = engine.counters();
    std::string out;
    out.reserve(4096);

    family(out, "vllm:num_requests_running", "Number of requests in model execution batches.", "gauge");
    sample(out, "vllm:num_requests_running", labels, double(engine.num_running()) + load.running);
    family(out, "vllm:num_requests_waiting", "Number of requests waiting to be processed.", "gauge");
    sample(out, "vllm:num_requests_waiting", labels, double(engine.num_waiting()) + load.waiting);
    family(out, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", "gauge");
    sample(out, "vllm:kv_cache_usage_perc", labels, load.kv_usage.value_or(engine.kv_usage()));

    family(out, "vllm:prefix_cache_queries_total",
           "Prefix cache queries, in terms of number of queried tokens.", "counter");
    sample(out, "vllm:prefix_cache_queries_total", labels, double(c.prefix_cache_queries));
    family(out, "vllm:prefix_cache_hits_total",
           "Prefix cache hits, in terms of number of cached tokens.", "counter");
    sample(out, "vllm:prefix_cache_hits_total", labels, double(c.prefix_cache_hits));
    family(out, "vllm:num_preemptions_total", "Cumulative number of preemption from the engine.", "counter");
    sample(out, "vllm:num_preemptions_total", labels, double(c.preemptions));
    family(out, "vllm:prompt_tokens_total", "Number of prefill tokens processed.", "counter");
    sample(out, "vllm:prompt_tokens_total", labels, double(c.prompt_tokens));
    family(out, "vllm:generation_tokens_total", "Number of generation tokens processed.", "counter");
    sample(out, "vllm:generation_tokens_total", labels, double(c.generation_tokens));

    family(out, "vllm:request_success_total", "Count of successfully processed requests.", "counter");
    auto reason = [&](std::string_view r) {
        return fmt::format("engine=\"0\",finished_reason=\"{}\",model_name={}", r, model_label);
    };
    sample(out, "vllm:request_success_total", reason("stop"), 0.0);
    sample(out, "vllm:request_success_total", reason("length"), double(c.completed));
    sample(out, "vllm:request_success_total", reason("abort"), double(c.aborted));

    // vLLM sets a new series to the current time whenever the lists change
    // and keeps the old ones; the newest is the state, which is all a
    // reader uses, so only it is written here. Without adapters max_lora
    // is 0, as for a vLLM started without --enable-lora.
    std::vector<std::uint32_t> running, waiting;
    engine.lora_adapters(running, waiting);
    auto names = [&](const std::vector<std::uint32_t>& ids) {
        std::string csv;
        for (std::uint32_t id : ids) {
            if (!csv.empty()) csv += ',';
            csv += cfg.loras[id - 1];
        }
        return csv;
    };
    family(out, "vllm:lora_requests_info", "Running stats on lora requests.", "gauge");
    sample(out, "vllm:lora_requests_info",
           fmt::format("max_lora=\"{}\",running_lora_adapters=\"{}\",waiting_lora_adapters=\"{}\"",
                       cfg.loras.empty() ? 0 : cfg.max_loras, names(running), names(waiting)),
           unix_time);

    // vLLM's CacheConfig as an info gauge (value 1, facts in labels): the
    // picker reads the KV capacity from it (block_size x num_gpu_blocks).
    // Written once: a family twice is invalid exposition text.
    family(out, "vllm:cache_config_info", "Information of the LLMEngine CacheConfig", "gauge");
    sample(out, "vllm:cache_config_info",
           fmt::format("block_size=\"{}\",cache_dtype=\"auto\",enable_prefix_caching=\"True\","
                       "engine=\"0\",gpu_memory_utilization=\"0.9\",kv_cache_size_tokens=\"{}\","
                       "num_cpu_blocks=\"0\",num_gpu_blocks=\"{}\"",
                       cfg.block_size, std::uint64_t{cfg.kv_blocks} * cfg.block_size, cfg.kv_blocks),
           1.0);
    return out;
}

}  // namespace infergate::sim
