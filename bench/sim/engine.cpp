#include "bench/sim/engine.hpp"

#include <algorithm>
#include <cassert>

namespace infergate::sim {

Engine::Engine(EngineConfig cfg)
    : cfg_(std::move(cfg)),
      kv_(cfg_.kv_blocks),
      hash_seed_(hash_seed_for_model(cfg_.models.front())) {}

std::uint32_t Engine::blocks_for(std::uint32_t tokens) const {
    return (tokens + cfg_.block_size - 1) / cfg_.block_size;
}

SubmitError Engine::submit(Prompt prompt, std::uint32_t max_tokens, RequestId& id, std::uint32_t lora) {
    if (prompt.num_tokens == 0 || max_tokens == 0) return SubmitError::empty;
    const std::uint64_t total = std::uint64_t{prompt.num_tokens} + max_tokens;
    // A request that could never fit would block the FCFS queue forever.
    if (total > cfg_.max_model_len || blocks_for(static_cast<std::uint32_t>(total)) + 1 > cfg_.kv_blocks) {
        return SubmitError::too_long;
    }
    id = next_id_++;
    Request r;
    r.id = id;
    r.prompt = std::move(prompt);
    r.max_tokens = max_tokens;
    r.lora = lora;
    counters_.prompt_tokens += r.prompt.num_tokens;
    requests_.emplace(id, std::move(r));
    waiting_.push_back(id);
    return SubmitError::none;
}

void Engine::lora_adapters(std::vector<std::uint32_t>& running, std::vector<std::uint32_t>& waiting) const {
    auto collect = [&](const auto& ids, std::vector<std::uint32_t>& out) {
        out.clear();
        for (RequestId id : ids) {
            const auto it = requests_.find(id);
            if (it == requests_.end() || it->second.lora == 0) continue;
            if (std::find(out.begin(), out.end(), it->second.lora) == out.end()) out.push_back(it->second.lora);
        }
    };
    collect(running_, running);
    collect(waiting_, waiting);
}

void Engine::abort(RequestId id) {
    auto it = requests_.find(id);
    if (it == requests_.end()) return;
    Request& r = it->second;
    if (r.held) --num_held_;
    kv_.release(r.blocks);
    erase_running(id);
    if (auto w = std::find(waiting_.begin(), waiting_.end(), id); w != waiting_.end()) {
        waiting_.erase(w);
    }
    requests_.erase(it);
    ++counters_.aborted;
}

std::optional<double> Engine::begin_step() {
    assert(!in_flight_);
    scheduled_.clear();
    StepShape shape;
    std::uint32_t budget = cfg_.max_num_batched_tokens;
    // Like vLLM V1: running requests first (decodes and unfinished prefill
    // chunks), and no new admissions in a step that had to preempt.
    if (!schedule_running(budget, shape)) schedule_waiting(budget, shape);
    if (scheduled_.empty()) return std::nullopt;
    last_step_ = shape;
    step_us_ = step_time_us(shape);
    in_flight_ = true;
    ++counters_.steps;
    return step_us_;
}

bool Engine::schedule_running(std::uint32_t& budget, StepShape& shape) {
    bool preempted = false;
    // running_ may shrink from the back while we walk it (preemption).
    for (std::size_t i = 0; i < running_.size() && budget > 0; ++i) {
        Request& r = requests_.at(running_[i]);
        if (r.held) continue;
        const std::uint32_t n = std::min(r.num_tokens() - r.computed, budget);
        const std::uint32_t want = blocks_for(r.computed + n);
        const auto have = static_cast<std::uint32_t>(r.blocks.size());
        bool self_preempted = false;
        while (want > have && !kv_.grow(want - have, r.blocks)) {
            // Recompute preemption of the newest running request that still
            // needs compute; it may be r itself.
            auto victim = std::find_if(running_.rbegin(), running_.rend(),
                                       [&](RequestId v) { return !requests_.at(v).held; });
            const RequestId vid = *victim;
            preempt(vid);
            preempted = true;
            if (vid == r.id) {
                self_preempted = true;
                break;
            }
        }
        if (self_preempted) break;
        scheduled_.push_back({r.id, n});
        add_to_shape(r, n, shape);
        budget -= n;
    }
    return preempted;
}

void Engine::schedule_waiting(std::uint32_t& budget, StepShape& shape) {
    const std::uint32_t bs = cfg_.block_size;
    while (!waiting_.empty() && budget > 0 && running_.size() < cfg_.max_num_seqs) {
        Request& r = requests_.at(waiting_.front());
        // At least the last prompt token is recomputed to get logits, so a
        // fully cached prompt still hits at most (n-1)/bs blocks.
        const std::uint32_t hits = kv_.lookup(r.prompt.block_hashes, (r.num_tokens() - 1) / bs);
        // The whole prompt plus one block for output, as the admission rule.
        const std::uint32_t fresh = blocks_for(r.num_tokens()) + 1 - hits;
        if (!kv_.can_allocate(r.prompt.block_hashes, hits, fresh)) break;  // FCFS: head blocks
        kv_.allocate(r.prompt.block_hashes, hits, fresh, r.blocks);
        r.computed = hits * bs;
        r.committed = hits;
        counters_.prefix_cache_queries += r.num_tokens();
        counters_.prefix_cache_hits += std::uint64_t{hits} * bs;
        waiting_.pop_front();
        running_.push_back(r.id);
        const std::uint32_t n = std::min(r.num_tokens() - r.computed, budget);
        scheduled_.push_back({r.id, n});
        add_to_shape(r, n, shape);
        budget -= n;
    }
}

void Engine::add_to_shape(const Request& r, std::uint32_t n, StepShape& shape) const {
    if (r.generated > 0 && n == 1 && r.computed + 1 == r.num_tokens()) {
        ++shape.decode_seqs;
        return;
    }
    shape.prefill_tokens += n;
    // Each new token attends to the r.computed tokens before the chunk and
    // to the chunk's tokens up to itself (causal).
    shape.attn_pairs += double(n) * r.computed + double(n) * (n + 1) / 2.0;
}

double Engine::step_time_us(const StepShape& s) const {
    return cfg_.step_base_us + cfg_.prefill_us_per_token * s.prefill_tokens +
           cfg_.decode_us_per_seq * s.decode_seqs + cfg_.prefill_attn_ns_per_pair * s.attn_pairs / 1000.0;
}

void Engine::end_step(std::vector<Output>& out) {
    assert(in_flight_);
    in_flight_ = false;
    now_us_ += step_us_;
    const std::uint32_t bs = cfg_.block_size;
    for (const Scheduled& s : scheduled_) {
        auto it = requests_.find(s.id);
        if (it == requests_.end()) continue;  // aborted during the step
        Request& r = it->second;
        r.computed += s.tokens;
        // Full prompt blocks become reusable as soon as they are computed,
        // even while the request is still running (vLLM caches per step).
        const auto full = std::min<std::size_t>(r.computed / bs, r.prompt.block_hashes.size());
        for (; r.committed < full; ++r.committed) {
            kv_.commit(r.blocks[r.committed], r.prompt.block_hashes[r.committed]);
        }
        if (r.computed < r.num_tokens()) continue;  // prefill chunk, no token yet
        ++r.generated;
        ++counters_.generation_tokens;
        if (r.generated < r.max_tokens) {
            out.push_back({r.id, 1, false});
        } else if (hold_) {
            r.held = true;
            ++num_held_;
        } else {
            out.push_back({r.id, 1, true});
            finish(r);
        }
    }
    scheduled_.clear();
}

void Engine::release(std::vector<Output>& out) {
    const std::vector<RequestId> ids = running_;
    for (RequestId id : ids) {
        Request& r = requests_.at(id);
        if (!r.held) continue;
        --num_held_;
        out.push_back({id, 1, true});
        finish(r);
    }
}

void Engine::finish(Request& r) {
    const RequestId id = r.id;
    kv_.release(r.blocks);
    erase_running(id);
    ++counters_.completed;
    requests_.erase(id);
}

void Engine::preempt(RequestId id) {
    Request& r = requests_.at(id);
    kv_.release(r.blocks);
    r.blocks.clear();
    r.computed = 0;
    r.committed = 0;
    erase_running(id);
    waiting_.push_front(id);
    ++counters_.preemptions;
}

void Engine::erase_running(RequestId id) {
    if (auto it = std::find(running_.begin(), running_.end(), id); it != running_.end()) {
        running_.erase(it);
    }
}

double Engine::kv_usage() const {
    return double(kv_.used_blocks()) / double(kv_.num_blocks());
}

}  // namespace infergate::sim
