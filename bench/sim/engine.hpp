// The simulated vLLM engine: V1-style continuous batching with chunked
// prefill over a paged KV cache with automatic prefix caching, and a
// step-time model calibrated to Llama-3.1-8B on one H100.
//
// The engine knows nothing about sockets or clocks: a driver calls
// begin_step(), waits the returned simulated duration (scaled to real
// time), then calls end_step(), which reports the tokens produced. Given
// the same config and the same sequence of calls, every result and every
// simulated time is identical.
//
// Not thread-safe: one owner, one thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bench/sim/config.hpp"
#include "bench/sim/kv_cache.hpp"
#include "bench/sim/tokenizer.hpp"

namespace infergate::sim {

using RequestId = std::uint64_t;  // also the arrival sequence number, from 1

// Tokens produced for one request by one step (or by release()).
struct Output {
    RequestId id;
    std::uint32_t new_tokens;  // 0 or 1
    bool finished;             // true on the request's last token
};

// Counters exported as vLLM metrics (monotonic).
struct EngineCounters {
    std::uint64_t prefix_cache_queries = 0;  // prompt tokens looked up
    std::uint64_t prefix_cache_hits = 0;     // of which found cached
    std::uint64_t prompt_tokens = 0;
    std::uint64_t generation_tokens = 0;
    std::uint64_t completed = 0;
    std::uint64_t aborted = 0;
    std::uint64_t preemptions = 0;
    std::uint64_t steps = 0;
};

// What one step computed, for tests and for the step-time model.
struct StepShape {
    std::uint32_t prefill_tokens = 0;
    std::uint32_t decode_seqs = 0;
    double attn_pairs = 0;  // sum over prefill chunks of new x attended tokens
};

enum class SubmitError { none, empty, too_long };

class Engine {
public:
    explicit Engine(EngineConfig cfg);

    const EngineConfig& config() const { return cfg_; }

    // Queues a request. Its id is its arrival order. Fails with `empty` for
    // an empty prompt or max_tokens 0, and with too_long
    // when prompt + max_tokens exceeds max-model-len or could never fit
    // in the KV cache (vLLM answers 400 to the former).
    // `lora`: 0 for the base model, i + 1 for config().loras[i].
    SubmitError submit(Prompt prompt, std::uint32_t max_tokens, RequestId& id, std::uint32_t lora = 0);

    // The distinct adapters (as in submit, never 0) of the running and of
    // the waiting requests, in admission / queue order.
    void lora_adapters(std::vector<std::uint32_t>& running, std::vector<std::uint32_t>& waiting) const;

    // Removes a request wherever it is (client went away) and frees its
    // blocks. Unknown ids are ignored. Safe during a step.
    void abort(RequestId id);

    // Plans the next step: admits waiting requests, allocates KV blocks,
    // preempts if KV ran out. Returns the step's simulated duration in
    // microseconds, or nullopt if there is nothing to compute now.
    // Precondition: no step in flight.
    std::optional<double> begin_step();

    // Completes the planned step at now() + duration and appends what it
    // produced to `out`.
    void end_step(std::vector<Output>& out);

    bool step_in_flight() const { return in_flight_; }

    // While hold is on, a request that produces its last token keeps it
    // back (it stays running, keeps its blocks and batch slot, but needs no
    // compute) until release() hands every held last token to `out`.
    void set_hold(bool on) { hold_ = on; }
    bool hold() const { return hold_; }
    void release(std::vector<Output>& out);

    // Step-time model (simulated microseconds).
    double step_time_us(const StepShape& s) const;
    const StepShape& last_step() const { return last_step_; }

    // Simulated clock. advance_to() moves it forward across idle gaps.
    double now_us() const { return now_us_; }
    void advance_to(double us) { if (us > now_us_) now_us_ = us; }

    std::uint32_t num_running() const { return static_cast<std::uint32_t>(running_.size()); }
    std::uint32_t num_waiting() const { return static_cast<std::uint32_t>(waiting_.size()); }
    std::uint32_t num_held() const { return num_held_; }
    double kv_usage() const;
    const KvCache& kv() const { return kv_; }
    const EngineCounters& counters() const { return counters_; }

private:
    struct Request {
        RequestId id = 0;
        Prompt prompt;
        std::uint32_t max_tokens = 0;
        std::uint32_t generated = 0;
        std::uint32_t computed = 0;   // tokens whose KV is in the cache
        std::uint32_t committed = 0;  // prompt blocks registered in the cache
        std::vector<BlockId> blocks;
        bool held = false;
        std::uint32_t lora = 0;
        std::uint32_t num_tokens() const { return prompt.num_tokens + generated; }
    };
    struct Scheduled {
        RequestId id;
        std::uint32_t tokens;
    };

    std::uint32_t blocks_for(std::uint32_t tokens) const;
    bool schedule_running(std::uint32_t& budget, StepShape& shape);
    void schedule_waiting(std::uint32_t& budget, StepShape& shape);
    void add_to_shape(const Request& r, std::uint32_t n, StepShape& shape) const;
    void preempt(RequestId id);
    void finish(Request& r);
    void erase_running(RequestId id);

    EngineConfig cfg_;
    KvCache kv_;
    std::uint64_t hash_seed_;
    std::unordered_map<RequestId, Request> requests_;
    std::vector<RequestId> running_;  // admission order; newest last
    std::deque<RequestId> waiting_;   // FCFS; preempted requests go first
    std::vector<Scheduled> scheduled_;
    StepShape last_step_;
    double step_us_ = 0;
    double now_us_ = 0;
    RequestId next_id_ = 1;
    std::uint32_t num_held_ = 0;
    bool hold_ = false;
    bool in_flight_ = false;
    EngineCounters counters_;
};

}  // namespace infergate::sim
