// Runs the Engine in (scaled) real time on an Asio executor and hands each
// request's tokens to the connection that asked for it.
//
// The engine loop is event-driven: a step is planned when work arrives,
// the step timer waits its simulated duration / time-scale, then the
// step's outputs are delivered and the next step planned. With nothing to
// compute no timer is armed. Single-threaded: everything runs on the one
// io_context thread, so no locks.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bench/sim/engine.hpp"

namespace infergate::sim {

// One request's view of its progress, shared by the driver (writer) and the
// connection coroutine (reader). The coroutine waits on `wake`, which the
// driver cancels whenever something changed. A cancel with no wait pending
// is lost, so the reader must check the fields and start its wait with no
// suspension in between (single thread: nothing else runs meanwhile).
struct RequestStream {
    explicit RequestStream(const boost::asio::any_io_executor& ex) : wake(ex) {
        wake.expires_at(boost::asio::steady_timer::time_point::max());
    }
    void notify() { wake.cancel(); }

    RequestId id = 0;
    std::uint32_t tokens_ready = 0;  // produced so far
    bool finished = false;           // last token produced
    // Disconnect watch (see http_server.cpp): a wait_read is pending, or
    // it fired and the coroutine must look at the socket.
    bool watching = false;
    bool peer_readable = false;
    bool pipelined = false;  // the client sent its next request: stop watching
    boost::asio::steady_timer wake;
};

class EngineDriver {
public:
    EngineDriver(const boost::asio::any_io_executor& ex, EngineConfig cfg, double time_scale);

    const Engine& engine() const { return engine_; }

    // Queues a request; on success `stream->id` is set and the stream gets
    // its tokens as steps complete.
    SubmitError submit(Prompt prompt, std::uint32_t max_tokens,
                       const std::shared_ptr<RequestStream>& stream, std::uint32_t lora = 0);

    // The client went away: drop the request and free its KV blocks.
    void abort(RequestId id);

    void set_hold(bool on) { engine_.set_hold(on); }
    // Hands every held last token to its stream.
    void release();

    // Requests accepted since start (for /sim/stats).
    std::uint64_t submitted() const { return submitted_; }

private:
    using clock = std::chrono::steady_clock;

    void kick(bool back_to_back);
    void on_step_done();
    void deliver();

    Engine engine_;
    boost::asio::steady_timer timer_;
    double time_scale_;
    clock::time_point epoch_;
    clock::time_point deadline_{};
    std::unordered_map<RequestId, std::shared_ptr<RequestStream>> streams_;
    std::vector<Output> outputs_;
    std::uint64_t submitted_ = 0;
};

}  // namespace infergate::sim
