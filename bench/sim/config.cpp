#include "bench/sim/config.hpp"

#include <charconv>
#include <cmath>
#include <string_view>

#include <fmt/format.h>

namespace infergate::sim {
namespace {

// std::from_chars for doubles is in libstdc++ 11+, so both kinds parse
// without locale surprises and without exceptions.
template <typename T>
bool parse_number(std::string_view text, T& out) {
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && ptr == text.data() + text.size();
}

bool parse_u32(std::string_view text, std::uint32_t min, std::uint32_t& out) {
    std::uint64_t v = 0;
    if (!parse_number(text, v) || v < min || v > UINT32_MAX) return false;
    out = static_cast<std::uint32_t>(v);
    return true;
}

bool parse_double(std::string_view text, double min, double& out) {
    double v = 0;
    if (!parse_number(text, v) || !std::isfinite(v) || v < min) return false;
    out = v;
    return true;
}

void add_models(std::string_view list, std::vector<std::string>& models) {
    while (!list.empty()) {
        auto comma = list.find(',');
        auto item = list.substr(0, comma);
        if (!item.empty()) models.emplace_back(item);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
}

}  // namespace

std::string usage() {
    Config d;
    const EngineConfig& e = d.engine;
    return fmt::format(
        "usage: infergate-sim [flags]\n"
        "Simulates a vLLM replica serving Llama-3.1-8B on one H100 (OpenAI API).\n\n"
        "  --host ADDR                    listen address (default {})\n"
        "  --port N                       listen port, 0 = any free port (default {})\n"
        "  --ready-file FILE              once listening, write {{\"port\": N, \"pid\": P}} to FILE\n"
        "  --name NAME                    value of the x-sim-replica header (default HOST:PORT)\n"
        "  --model NAME[,NAME...]         served model names, repeatable (default {})\n"
        "  --lora NAME[,NAME...]          LoRA adapters served as models, repeatable (default none)\n"
        "  --max-loras N                  max_lora reported in vllm:lora_requests_info (default {})\n"
        "  --max-num-seqs N               max running requests (default {})\n"
        "  --max-num-batched-tokens N     max tokens per engine step (default {})\n"
        "  --block-size N                 KV block size in tokens (default {})\n"
        "  --kv-blocks N                  KV cache blocks (default {})\n"
        "  --max-model-len N              max prompt + output tokens (default {})\n"
        "  --step-base-us US              fixed cost of one step (default {})\n"
        "  --prefill-us-per-token US      cost per prefill token (default {})\n"
        "  --decode-us-per-seq US         cost per decoding sequence (default {})\n"
        "  --prefill-attn-ns-per-pair NS  attention cost per (new, context) token pair,\n"
        "                                 0 = linear model (default {})\n"
        "  --time-scale X                 simulated time runs X times real time (default {})\n"
        "  --seed N                       seed for ids and generated text (default {})\n"
        "  --chars-per-token N            tokenizer: characters per token (default {})\n"
        "  --default-max-tokens N         max_tokens when the request has none (default {})\n"
        "  --tokens-per-event N           tokens per SSE event (default {})\n"
        "  --tls-cert FILE                serve HTTPS with this PEM certificate (chain) file\n"
        "  --tls-key FILE                 PEM private key of --tls-cert\n"
        "  --tls-client-ca FILE           require client certificates verified against\n"
        "                                 this PEM CA file (needs --tls-cert)\n"
        "  --help                         print this text\n",
        d.host, d.port, e.models.front(), e.max_loras, e.max_num_seqs, e.max_num_batched_tokens,
        e.block_size, e.kv_blocks, e.max_model_len, e.step_base_us, e.prefill_us_per_token,
        e.decode_us_per_seq, e.prefill_attn_ns_per_pair, d.time_scale, e.seed,
        e.chars_per_token, d.default_max_tokens, d.tokens_per_event);
}

ParseOutcome parse_args(int argc, char** argv, Config& out, std::string& message) {
    bool models_given = false;
    EngineConfig& e = out.engine;
    for (int i = 1; i < argc; ++i) {
        std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            message = usage();
            return ParseOutcome::help;
        }
        std::string_view value;
        if (auto eq = flag.find('='); flag.starts_with("--") && eq != std::string_view::npos) {
            value = flag.substr(eq + 1);
            flag = flag.substr(0, eq);
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            message = fmt::format("{}: missing value (see --help)", flag);
            return ParseOutcome::error;
        }
        bool ok = true;
        std::uint32_t port = 0;
        if (flag == "--host") {
            out.host = value;
            ok = !value.empty();
        } else if (flag == "--port") {
            ok = parse_u32(value, 0, port) && port <= 65535;
            out.port = static_cast<std::uint16_t>(port);
        }
        else if (flag == "--ready-file") out.ready_file = value;
        else if (flag == "--name") out.name = value;
        else if (flag == "--model") {
            if (!models_given) e.models.clear();
            models_given = true;
            add_models(value, e.models);
            ok = !e.models.empty();
        }
        else if (flag == "--lora") {
            add_models(value, e.loras);
            ok = !e.loras.empty();
        }
        else if (flag == "--max-loras") ok = parse_u32(value, 1, e.max_loras);
        else if (flag == "--max-num-seqs") ok = parse_u32(value, 1, e.max_num_seqs);
        else if (flag == "--max-num-batched-tokens") ok = parse_u32(value, 1, e.max_num_batched_tokens);
        else if (flag == "--block-size") ok = parse_u32(value, 1, e.block_size);
        else if (flag == "--kv-blocks") ok = parse_u32(value, 2, e.kv_blocks);
        else if (flag == "--max-model-len") ok = parse_u32(value, 2, e.max_model_len);
        else if (flag == "--step-base-us") ok = parse_double(value, 0, e.step_base_us);
        else if (flag == "--prefill-us-per-token") ok = parse_double(value, 0, e.prefill_us_per_token);
        else if (flag == "--decode-us-per-seq") ok = parse_double(value, 0, e.decode_us_per_seq);
        else if (flag == "--prefill-attn-ns-per-pair") ok = parse_double(value, 0, e.prefill_attn_ns_per_pair);
        else if (flag == "--time-scale") ok = parse_double(value, 1e-6, out.time_scale);
        else if (flag == "--seed") ok = parse_number(value, e.seed);
        else if (flag == "--chars-per-token") ok = parse_u32(value, 1, e.chars_per_token);
        else if (flag == "--default-max-tokens") ok = parse_u32(value, 1, out.default_max_tokens);
        else if (flag == "--tokens-per-event") ok = parse_u32(value, 1, out.tokens_per_event);
        else if (flag == "--tls-cert") ok = !(out.tls_cert = value).empty();
        else if (flag == "--tls-key") ok = !(out.tls_key = value).empty();
        else if (flag == "--tls-client-ca") ok = !(out.tls_client_ca = value).empty();
        else {
            message = fmt::format("unknown flag {} (see --help)", flag);
            return ParseOutcome::error;
        }
        if (!ok) {
            message = fmt::format("{}: invalid value '{}'", flag, value);
            return ParseOutcome::error;
        }
    }
    // A step must be able to make progress on a decode of every running
    // sequence plus at least one prefill token.
    if (e.max_num_batched_tokens < e.max_num_seqs) {
        message = "--max-num-batched-tokens must be >= --max-num-seqs";
        return ParseOutcome::error;
    }
    if (out.tls_cert.empty() != out.tls_key.empty()) {
        message = "--tls-cert and --tls-key go together";
        return ParseOutcome::error;
    }
    if (!out.tls_client_ca.empty() && out.tls_cert.empty()) {
        message = "--tls-client-ca needs --tls-cert and --tls-key";
        return ParseOutcome::error;
    }
    return ParseOutcome::run;
}

}  // namespace infergate::sim
