#include "bench/sim/driver.hpp"

namespace infergate::sim {

EngineDriver::EngineDriver(const boost::asio::any_io_executor& ex, EngineConfig cfg,
                           double time_scale)
    : engine_(std::move(cfg)), timer_(ex), time_scale_(time_scale), epoch_(clock::now()) {}

SubmitError EngineDriver::submit(Prompt prompt, std::uint32_t max_tokens,
                                 const std::shared_ptr<RequestStream>& stream, std::uint32_t lora) {
    // An idle engine's simulated clock catches up with (scaled) real time,
    // so its timestamps stay comparable with the wall clock.
    if (!engine_.step_in_flight()) {
        const std::chrono::duration<double, std::micro> real = clock::now() - epoch_;
        engine_.advance_to(real.count() * time_scale_);
    }
    RequestId id = 0;
    const SubmitError err = engine_.submit(std::move(prompt), max_tokens, id, lora);
    if (err != SubmitError::none) return err;
    ++submitted_;
    stream->id = id;
    streams_.emplace(id, stream);
    kick(false);
    return SubmitError::none;
}

void EngineDriver::abort(RequestId id) {
    engine_.abort(id);
    streams_.erase(id);
    kick(false);  // its batch slot and blocks may admit a waiting request
}

void EngineDriver::release() {
    engine_.release(outputs_);
    deliver();
    kick(false);
}

void EngineDriver::kick(bool back_to_back) {
    if (engine_.step_in_flight()) return;  // on_step_done() will plan the next
    const auto step_us = engine_.begin_step();
    if (!step_us) return;  // idle: no timer until the next submit/abort/release
    const auto now = clock::now();
    // Consecutive steps are chained on the previous deadline so timer
    // latency does not accumulate; after idling, or if we fell more than
    // 50 ms behind (overloaded host), start from now.
    auto start = now;
    if (back_to_back && deadline_ + std::chrono::milliseconds(50) > now) start = deadline_;
    deadline_ = start + std::chrono::duration_cast<clock::duration>(
                            std::chrono::duration<double, std::micro>(*step_us / time_scale_));
    timer_.expires_at(deadline_);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;  // cancelled at shutdown
        on_step_done();
    });
}

void EngineDriver::on_step_done() {
    engine_.end_step(outputs_);
    deliver();
    kick(true);
}

void EngineDriver::deliver() {
    for (const Output& o : outputs_) {
        auto it = streams_.find(o.id);
        if (it == streams_.end()) continue;
        RequestStream& s = *it->second;
        s.tokens_ready += o.new_tokens;
        s.finished = o.finished;
        s.notify();
        if (o.finished) streams_.erase(it);
    }
    outputs_.clear();
}

}  // namespace infergate::sim
