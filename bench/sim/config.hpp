// infergate-sim configuration: every command-line flag, its default, and
// the parser. Defaults are calibrated to Llama-3.1-8B on one H100 80GB
// under vLLM (see bench/sim/README.md and shared/SIMULATOR-CALIBRATION.md);
// benchmarks use them unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace infergate::sim {

// Engine (model + scheduler) parameters. Pure data, no I/O.
struct EngineConfig {
    std::vector<std::string> models{"meta-llama/Llama-3.1-8B-Instruct"};
    std::uint32_t max_num_seqs = 256;
    std::uint32_t max_num_batched_tokens = 8192;
    std::uint32_t block_size = 16;
    std::uint32_t kv_blocks = 26300;
    std::uint32_t max_model_len = 131072;
    double step_base_us = 6470.0;
    double prefill_us_per_token = 19.8;
    double decode_us_per_seq = 304.0;
    // Attention's quadratic prefill cost: ns per (new token x context token)
    // pair; 0 makes the step-time model purely linear.
    double prefill_attn_ns_per_pair = 1.27;
    std::uint64_t seed = 1;
    std::uint32_t chars_per_token = 4;
    // LoRA adapters served besides the models (vLLM's --lora-modules): a
    // request whose model is one of them runs with that adapter, and
    // vllm:lora_requests_info reports the adapters of the running and
    // waiting requests. max_loras is only reported as max_lora: the
    // scheduler does not limit how many adapters run at once.
    std::vector<std::string> loras;
    std::uint32_t max_loras = 1;
};

// Whole-process configuration.
struct Config {
    EngineConfig engine;
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;
    std::string ready_file;
    std::string name;  // empty: "HOST:PORT" with the bound port
    double time_scale = 1.0;
    std::uint32_t default_max_tokens = 128;
    std::uint32_t tokens_per_event = 1;
    // TLS (all empty: plain HTTP). PEM files; the cert file may hold the
    // leaf followed by its intermediates. With tls_client_ca, clients
    // must present a certificate that verifies against it.
    std::string tls_cert;
    std::string tls_key;
    std::string tls_client_ca;
};

enum class ParseOutcome { run, help, error };

// Parses argv into `out`. On `error`, `message` says which flag and why;
// on `help`, `message` holds the usage text. Never throws.
ParseOutcome parse_args(int argc, char** argv, Config& out, std::string& message);

// Usage text listing every flag with its default.
std::string usage();

}  // namespace infergate::sim
