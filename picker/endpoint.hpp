// Live state of one model-server endpoint, shared by all workers.
//
// Thread-safety: every mutable field is an atomic read and written with
// relaxed ordering. The scraper (control thread) writes the scraped
// metrics; workers write in_flight, down and the debug scores. A reader
// may see fields from two consecutive scrapes mixed; every consumer
// tolerates that (each field is individually valid), and in exchange the
// request path reads endpoint state without a lock or a refcount.
//
// Lifetime: owned through std::shared_ptr by the runtime snapshots that
// list it; a reload that keeps an endpoint (same pool, same address)
// keeps the same EndpointState, so counts and metrics survive reloads.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace infergate::picker {

using Clock = std::chrono::steady_clock;

// Nanoseconds on Clock since its epoch; 0 means "never".
inline int64_t to_ns(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// The key under which a LoRA adapter name is stored and looked up:
// XXH3-64 of the name's bytes. A collision (2^-64 per pair) would make one
// adapter look loaded when another is; the scorer only prefers, never
// refuses, so that costs at most a slower first token.
uint64_t adapter_hash(std::string_view name);

// The LoRA adapters an engine reports (vLLM's vllm:lora_requests_info,
// labels running_lora_adapters, waiting_lora_adapters, max_lora), as
// hashes so that the endpoint can hold them in fixed atomics.
//
// Bound: at most kMaxAdapters distinct names are kept per list (running,
// waiting), the first ones in the label's order. Names beyond the bound
// are still counted in *_count, so the capacity test (running_count +
// waiting_count < max_lora) stays right; they just cannot be recognised:
// a request for the 17th running adapter scores as if the adapter were
// not loaded. vLLM's --max-loras (the number of adapters running at once)
// defaults to 1 and is rarely above 16; a waiting list that long means
// the engine is already overloaded with adapter swaps.
struct LoraAdapters {
    static constexpr uint32_t kMaxAdapters = 16;
    std::array<uint64_t, kMaxAdapters> running{};  // first running_kept valid
    std::array<uint64_t, kMaxAdapters> waiting{};  // first waiting_kept valid
    uint32_t running_kept = 0, waiting_kept = 0;   // <= kMaxAdapters
    // Distinct names reported (duplicates beyond the bound count twice).
    uint32_t running_count = 0, waiting_count = 0;
    int64_t max_lora = 0;  // 0: unknown, or the engine has no LoRA metric

    // Adds one name to a list: ignored when already kept, kept when there
    // is room, else only counted.
    void add_running(std::string_view name) { add(name, running, running_kept, running_count); }
    void add_waiting(std::string_view name) { add(name, waiting, waiting_kept, waiting_count); }

private:
    static void add(std::string_view name, std::array<uint64_t, kMaxAdapters>& list, uint32_t& kept,
                    uint32_t& count);
};

// One scrape's worth of the signals the scorers read.
struct EngineMetrics {
    double waiting = 0;   // requests queued in the engine
    double running = 0;   // requests in the running batch
    double kv_usage = 0;  // KV-cache utilisation in [0, 1]
    // Initialised here so that EngineMetrics{w, r, kv} stays warning-free.
    LoraAdapters lora{};  // empty when the engine reports none
    // KV-cache capacity in tokens (vLLM: cache_config_info's num_gpu_blocks
    // x block_size); 0 when the engine does not say.
    double kv_capacity_tokens = 0;
};

// Where one adapter stands on an endpoint (EndpointState::lora_status).
struct LoraStatus {
    bool running = false;     // in running_lora_adapters
    bool waiting = false;     // in waiting_lora_adapters
    int64_t adapters = 0;     // running_count + waiting_count
    int64_t max_lora = 0;
};

class EndpointState {
public:
    EndpointState(std::string pool, config::Endpoint endpoint);
    EndpointState(const EndpointState&) = delete;
    EndpointState& operator=(const EndpointState&) = delete;

    const std::string& pool() const { return pool_; }
    const std::string& id() const { return id_; }  // "host:port"
    // base64(id): the session-affinity token echoed to clients (the
    // reference encodes the pod's namespace/name the same way).
    const std::string& token() const { return token_; }
    // Process-unique, never reused: the prefix index names endpoints by it.
    uint32_t uid() const { return uid_; }
    const config::Endpoint& config() const { return config_; }

    // --- scraped metrics (written by the scraper only) ---
    void publish(const EngineMetrics& m, Clock::time_point at);
    void scrape_failed(Clock::time_point at);
    // A copy of everything published, the adapter lists included.
    EngineMetrics metrics() const;
    // One adapter's status, read without copying the lists (the lora
    // scorer's path): a few relaxed loads, no allocation, no lock.
    LoraStatus lora_status(uint64_t adapter_hash) const;
    Clock::time_point scraped_at() const;  // last good scrape; epoch if never
    bool last_scrape_ok() const { return last_scrape_ok_.load(std::memory_order_relaxed); }
    // Fresh: last scrape succeeded and is at most `staleness` old.
    bool fresh(Clock::time_point now, std::chrono::milliseconds staleness) const;

    // --- infergate's own view (written by workers) ---
    // Requests infergate has sent to this endpoint and not yet finished.
    std::atomic<int64_t> in_flight{0};
    // Set when a connection is refused; cleared when it answers again
    // (a successful connect or scrape).
    std::atomic<bool> down{false};
    // The total score this endpoint got in the last decision that scored
    // it, for /debug/endpoints. NaN when never scored.
    std::atomic<double> last_score;
    // Each scorer's unweighted score in that decision, by the scorer's
    // position in the profile (the first kMaxDebugScores scorers).
    static constexpr size_t kMaxDebugScores = 8;
    std::array<std::atomic<double>, kMaxDebugScores> last_scores;

    // KV-cache tokens that requests infergate sent since the last good
    // scrape will occupy: the scraped usage cannot show them yet
    // (burst-aware-prefix-producer). A publish() starts a new count; the
    // count and the scrape it belongs to share one atomic word, so an add
    // racing a publish is never lost into the old scrape's count.
    void add_unseen_kv_tokens(int64_t tokens);
    int64_t unseen_kv_tokens() const;
    // Prompt tokens to prefill (blocks the endpoint did not hold yet) that
    // infergate sent there and the engine cannot have computed yet at
    // `tokens_per_second`: a bucket that each send fills and that drains at
    // that rate from the send on (burst-aware-prefix-producer's compute
    // check). Drained by time, not reset by a scrape as unseen_kv_tokens:
    // a scrape shows whether a request was admitted (its blocks in the
    // usage), not whether its prefill is done, and a long prompt prefills
    // over several scrape intervals (one vLLM step of 8192 tokens is
    // ~0.2 s on an H100, a scrape 50 ms). `now` may come from any worker's
    // clock reading: one older than the last send drains nothing. At most
    // 2^24 - 1 tokens (adds saturate); callers pass the same rate.
    void add_pending_prefill_tokens(int64_t tokens, Clock::time_point now, double tokens_per_second);
    int64_t pending_prefill_tokens(Clock::time_point now, double tokens_per_second) const;
    double kv_capacity_tokens() const { return kv_capacity_.load(std::memory_order_relaxed); }
    double kv_usage() const { return kv_usage_.load(std::memory_order_relaxed); }
    // The load scorers' and detectors' reads: one relaxed load each. Not
    // metrics(), which copies ~300 bytes of adapter lists: called per
    // candidate per scorer, that copy was 60% of a 64-endpoint pick.
    double waiting() const { return waiting_.load(std::memory_order_relaxed); }
    double running() const { return running_.load(std::memory_order_relaxed); }

private:
    std::string pool_;
    std::string id_;
    std::string token_;
    uint32_t uid_;
    config::Endpoint config_;
    std::atomic<double> waiting_{0}, running_{0}, kv_usage_{0};
    // LoraAdapters, field by field. A reader racing publish() may see one
    // list from the previous scrape and one from this one, or a kept count
    // whose hashes are partly the previous scrape's: each is an adapter the
    // engine reported a scrape ago, which is as good as a scrape-old view.
    std::array<std::atomic<uint64_t>, LoraAdapters::kMaxAdapters> lora_running_{}, lora_waiting_{};
    std::atomic<uint32_t> lora_running_kept_{0}, lora_waiting_kept_{0};
    std::atomic<uint32_t> lora_running_count_{0}, lora_waiting_count_{0};
    std::atomic<int64_t> max_lora_{0};
    std::atomic<double> kv_capacity_{0};
    // Good scrapes so far (low 24 bits), and unseen_kv_tokens tagged with
    // the scrape number it counts from: tag in the top 24 bits, tokens in
    // the low 40 (a trillion tokens: no wrap).
    std::atomic<uint32_t> scrape_seq_{0};
    std::atomic<uint64_t> unseen_kv_{0};
    // pending_prefill_tokens: the clock in ms at the last send in the top
    // 40 bits (35 years), the tokens pending then in the low 24.
    std::atomic<uint64_t> pending_prefill_{0};
    std::atomic<int64_t> scraped_at_ns_{0};
    std::atomic<bool> last_scrape_ok_{false};
};

}  // namespace infergate::picker
