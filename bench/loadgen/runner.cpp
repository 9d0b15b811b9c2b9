// The load generator's run; see runner.hpp and README.md.
//
// Ownership: Runner owns everything and outlives ioc.run(). Each request
// is one coroutine (run_request) that owns its socket while in flight;
// its Exchange (shared with the deadline handler) lets the deadline and
// the drain close that socket. Idle keep-alive sockets wait in their
// target's pool without a coroutine. One thread: no locks.
#include "bench/loadgen/runner.hpp"

#include <sys/resource.h>

#include <array>
#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "bench/loadgen/arrivals.hpp"
#include "bench/loadgen/prompts.hpp"
#include "bench/loadgen/response.hpp"
#include "bench/loadgen/window_assign.hpp"
#include "picker/prefix_hash.hpp"

namespace infergate::loadgen {

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// The reference's defaults (burstprefix/types.go): 64-token blocks, at
// most 2048 blocks per group key.
constexpr size_t kWindowBlockTokens = 64;
constexpr size_t kWindowMaxBlocks = 2048;
// The reference's maxBatchSize default: a window holds at most this many
// requests; the reference's producer then fails (the request goes on
// without affinity), so here a request beyond it is not held.
constexpr size_t kWindowMaxBatch = 1000;

struct Usage {
    double cpu_seconds = 0;
    long involuntary_switches = 0;
};

Usage usage() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return {double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
            ru.ru_nivcsw};
}

Clock::duration real(double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

struct TargetState {
    Target cfg;
    tcp::endpoint endpoint;
    std::string head;  // request line and the fixed header fields
    std::vector<tcp::socket> idle;
    int64_t inflight = 0;
};

// What the deadline and the drain need of a request in flight.
struct Exchange {
    explicit Exchange(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    tcp::socket* socket = nullptr;
    const char* abort_reason = nullptr;
    bool finished = false;

    void abort(const char* why) {
        if (finished) return;
        if (!abort_reason) abort_reason = why;
        if (socket) {
            error_code ignored;
            socket->close(ignored);
        }
    }
};

struct Request {
    uint64_t id = 0;
    uint32_t header_class = 0;  // index into the mix (sent in --class-header)
    PromptParts prompt;
    std::string owned;  // the random workload's prompt
    Clock::time_point issued;
};

// One batching window (--route window): requests wait on `gate` until
// `seal` fires and the joint assignment fills `targets`.
struct WindowBatch {
    explicit WindowBatch(const asio::any_io_executor& ex) : seal(ex), gate(ex) {}
    asio::steady_timer seal, gate;
    std::vector<WindowEntry> entries;
    std::vector<int> targets;
};

class Runner {
public:
    Runner(const Options& opt, asio::io_context& ioc)
        : opt_(opt), ioc_(ioc), signals_(ioc, SIGINT, SIGTERM), drain_timer_(ioc),
          open_timer_(ioc), burst_timer_(ioc),
          arrivals_(opt.schedule, opt.seed), classes_(opt.mix, opt.seed ^ 0x9e3779b97f4a7c15ull),
          prompt_rng_(opt.seed * 0x2545f4914f6cdd1dull + 3), text_rng_(opt.seed * 0x2545f4914f6cdd1dull + 4) {}

    bool setup(std::string& error);
    void start();
    RunResult result();

private:
    asio::awaitable<void> open_loop();
    asio::awaitable<void> burst();
    asio::awaitable<void> closed_loop_worker();
    void spawn_request(uint32_t cls, uint32_t stage, double scheduled_s, double lag_ms, Request req);
    asio::awaitable<void> run_request(Request req);
    asio::awaitable<int> window_target(const Request& req);
    void seal(WindowBatch& b);
    asio::awaitable<void> exchange(Request& req, TargetState& ts);
    void finish_record(Record& rec, const Request& req, const StreamResponse& resp, bool complete, std::string error);

    Request next_request(uint32_t header_class);
    uint64_t new_record(uint32_t cls, uint32_t stage, double scheduled_s, double lag_ms);
    double since_start(Clock::time_point t) const { return std::chrono::duration<double>(t - epoch_).count(); }
    double sim_ms(Clock::duration d) const { return std::chrono::duration<double>(d).count() * opt_.time_scale * 1e3; }
    int32_t replica_index(const std::string& name);
    void sender_done();
    void maybe_done();
    void stop_all(const char* why);
    void record_usage() {
        done_at_ = Clock::now();
        const Usage now = usage();
        usage_used_ = {now.cpu_seconds - usage_at_start_.cpu_seconds,
                       now.involuntary_switches - usage_at_start_.involuntary_switches};
    }
    int least_inflight_target() const;

    const Options& opt_;
    asio::io_context& ioc_;
    asio::signal_set signals_;
    asio::steady_timer drain_timer_;
    asio::steady_timer open_timer_, burst_timer_;  // the senders' (cancelled by stop_all)
    PoissonArrivals arrivals_;
    ClassPicker classes_;
    std::mt19937_64 prompt_rng_, text_rng_;
    std::optional<SharedPrefixPrompts> shared_, burst_prompts_;
    std::vector<TargetState> targets_;
    std::string body_head_, body_tail_;
    EventReader events_;

    std::vector<Record> records_;
    std::vector<std::string> class_names_;
    uint32_t burst_class_ = 0;
    std::vector<std::string> replicas_;
    std::unordered_map<std::string, int32_t> replica_ids_;
    std::unordered_set<Exchange*> live_;
    std::shared_ptr<WindowBatch> batch_;
    uint64_t picker_seed_ = 0;

    Clock::time_point epoch_, done_at_;
    Usage usage_at_start_, usage_used_;
    uint64_t inflight_ = 0;
    uint64_t next_closed_ = 0;
    size_t round_robin_ = 0;
    int senders_ = 0;
    bool draining_ = false, stopping_ = false, done_ = false;
};

bool Runner::setup(std::string& error) {
    tcp::resolver resolver(ioc_);
    for (const Target& t : opt_.targets) {
        error_code ec;
        auto results = resolver.resolve(t.host, t.port, ec);
        if (ec || results.empty()) {
            error = fmt::format("cannot resolve {}: {}", t.url, ec ? ec.message() : "no address");
            return false;
        }
        TargetState ts{t, results.begin()->endpoint(), {}, {}, 0};
        const bool v6 = t.host.find(':') != std::string::npos;
        ts.head = fmt::format("POST {} HTTP/1.1\r\nHost: {}{}{}:{}\r\nContent-Type: application/json\r\n"
                              "Accept: text/event-stream\r\n",
                              t.path, v6 ? "[" : "", t.host, v6 ? "]" : "", t.port);
        for (const auto& h : opt_.headers) ts.head += h + "\r\n";
        targets_.push_back(std::move(ts));
    }
    body_head_ = fmt::format(R"({{"model":"{}","max_tokens":{},"stream":true,"stream_options":{{"include_usage":true}},)"
                             R"("ignore_eos":true,"prompt":")",
                             opt_.model, opt_.output_tokens);
    body_tail_ = "\"}";
    for (const auto& c : opt_.mix) class_names_.push_back(c.name);
    burst_class_ = uint32_t(class_names_.size());
    if (opt_.burst > 0) class_names_.push_back("burst");
    // Distinct seeds: the burst's prefix must be one never seen in the
    // shared-prefix groups.
    if (opt_.workload == Workload::shared_prefix)
        shared_.emplace(opt_.groups, opt_.prompts_per_group, opt_.system_tokens, opt_.question_tokens,
                        opt_.chars_per_token, opt_.seed * 0x2545f4914f6cdd1dull + 1);
    if (opt_.burst > 0)
        burst_prompts_.emplace(1, opt_.burst, opt_.system_tokens, opt_.question_tokens, opt_.chars_per_token,
                               opt_.seed * 0x2545f4914f6cdd1dull + 2);
    picker_seed_ = picker::prefix_seed(opt_.model, "");
    return true;
}

void Runner::start() {
    signals_.async_wait([this](error_code ec, int) {
        if (!ec) stop_all("interrupted");
    });
    epoch_ = Clock::now();
    usage_at_start_ = usage();
    auto spawn = [this](asio::awaitable<void> a) {
        ++senders_;
        asio::co_spawn(ioc_, std::move(a), asio::detached);
    };
    if (opt_.concurrency > 0) {
        for (uint32_t i = 0; i < opt_.concurrency; ++i) spawn(closed_loop_worker());
    } else {
        if (opt_.workload != Workload::burst) spawn(open_loop());
        if (opt_.burst > 0) spawn(burst());
    }
}

Request Runner::next_request(uint32_t header_class) {
    Request r;
    r.header_class = header_class;
    if (opt_.workload == Workload::random) {
        append_words(r.owned, size_t(opt_.prompt_tokens) * opt_.chars_per_token, text_rng_);
        r.prompt = {r.owned, {}};
    } else {
        const uint64_t n = uint64_t(shared_->groups()) * shared_->prompts_per_group();
        const uint64_t i = std::uniform_int_distribution<uint64_t>(0, n - 1)(prompt_rng_);
        r.prompt = shared_->prompt(uint32_t(i / shared_->prompts_per_group()),
                                   uint32_t(i % shared_->prompts_per_group()));
    }
    return r;
}

uint64_t Runner::new_record(uint32_t cls, uint32_t stage, double scheduled_s, double lag_ms) {
    Record r;
    r.id = records_.size();
    r.cls = cls;
    r.stage = stage;
    r.scheduled_s = scheduled_s;
    r.lag_ms = lag_ms;
    records_.push_back(std::move(r));
    return records_.back().id;
}

asio::awaitable<void> Runner::open_loop() {
    asio::steady_timer& timer = open_timer_;
    while (!stopping_) {
        const auto a = arrivals_.next();
        if (!a) break;
        const Clock::time_point due = epoch_ + real(a->t / opt_.time_scale);
        timer.expires_at(due);
        co_await timer.async_wait(kAwait);
        if (stopping_) break;
        const Clock::time_point now = Clock::now();
        const uint32_t cls = classes_.next();
        Request req = next_request(cls);
        req.issued = now;
        spawn_request(cls, a->stage, a->t, sim_ms(now - due), std::move(req));
    }
    sender_done();
}

asio::awaitable<void> Runner::burst() {
    asio::steady_timer& timer = burst_timer_;
    const Clock::time_point start = epoch_ + real(opt_.burst_delay / opt_.time_scale);
    for (uint32_t i = 0; i < opt_.burst && !stopping_; ++i) {
        // Spread uniformly over the window, in real milliseconds.
        const double offset_s = opt_.burst_window_ms / 1e3 * double(i) / double(opt_.burst);
        const Clock::time_point due = start + real(offset_s);
        timer.expires_at(due);
        co_await timer.async_wait(kAwait);
        if (stopping_) break;
        const Clock::time_point now = Clock::now();
        const double scheduled = opt_.burst_delay + offset_s * opt_.time_scale;
        Request req;
        req.header_class = classes_.next();
        req.prompt = burst_prompts_->prompt(0, i);
        req.issued = now;
        spawn_request(burst_class_, arrivals_.stage_at(scheduled), scheduled, sim_ms(now - due), std::move(req));
    }
    sender_done();
}

asio::awaitable<void> Runner::closed_loop_worker() {
    while (!stopping_ && next_closed_ < opt_.requests) {
        ++next_closed_;
        const Clock::time_point now = Clock::now();
        const uint32_t cls = classes_.next();
        Request req = next_request(cls);
        req.issued = now;
        req.id = new_record(cls, 0, since_start(now) * opt_.time_scale, 0);
        ++inflight_;
        co_await run_request(std::move(req));
    }
    sender_done();
}

// Open loop: the request goes out now whatever else is in flight, up to
// --max-inflight (beyond it, it fails at once rather than wait: waiting
// would turn the open loop into a closed one).
void Runner::spawn_request(uint32_t cls, uint32_t stage, double scheduled_s, double lag_ms, Request req) {
    req.id = new_record(cls, stage, scheduled_s, lag_ms);
    if (inflight_ >= opt_.max_inflight) {
        Record& rec = records_[req.id];
        rec.error = "max-inflight reached";
        rec.end_s = since_start(Clock::now()) * opt_.time_scale;
        return;
    }
    ++inflight_;
    asio::co_spawn(ioc_, run_request(std::move(req)), asio::detached);
}

asio::awaitable<void> Runner::run_request(Request req) {
    int target = 0;
    if (opt_.route.mode != RouteMode::window) target = int(round_robin_++ % targets_.size());
    else if (batch_ && batch_->entries.size() >= kWindowMaxBatch) target = least_inflight_target();
    else target = co_await window_target(req);
    TargetState& ts = targets_[size_t(target)];
    if (stopping_) {
        Record& rec = records_[req.id];
        rec.error = "not sent: stopped";
        rec.end_s = since_start(Clock::now()) * opt_.time_scale;
    } else {
        ++ts.inflight;
        co_await exchange(req, ts);
        --ts.inflight;
    }
    --inflight_;
    maybe_done();
}

int Runner::least_inflight_target() const {
    size_t best = 0;
    for (size_t t = 1; t < targets_.size(); ++t)
        if (targets_[t].inflight < targets_[best].inflight) best = t;
    return int(best);
}

asio::awaitable<int> Runner::window_target(const Request& req) {
    if (!batch_) {
        // The first request while no window is open opens one.
        batch_ = std::make_shared<WindowBatch>(ioc_.get_executor());
        batch_->gate.expires_at(Clock::time_point::max());
        batch_->seal.expires_after(real(opt_.route.window_ms / 1e3 / opt_.time_scale));
        batch_->seal.async_wait([this, b = batch_](error_code) { seal(*b); });
    }
    std::shared_ptr<WindowBatch> b = batch_;
    const size_t index = b->entries.size();
    std::string text;
    text.reserve(req.prompt.size());
    text.append(req.prompt.prefix).append(req.prompt.suffix);
    WindowEntry e;
    picker::prefix_block_hashes(text, picker_seed_, kWindowBlockTokens * opt_.chars_per_token, kWindowMaxBlocks,
                                e.hashes);
    b->entries.push_back(std::move(e));
    co_await b->gate.async_wait(kAwait);  // cancelled by seal()
    co_return b->targets[index];
}

void Runner::seal(WindowBatch& b) {
    if (batch_.get() == &b) batch_.reset();
    std::vector<int64_t> running;
    for (const auto& t : targets_) running.push_back(t.inflight);
    assign_window(b.entries, running, opt_.route.max_per_replica, opt_.route.min_colocate_blocks, false);
    // Requests without affinity: the least loaded target by this
    // generator's in-flight count, the window's assignments included
    // (where the reference leaves them to the other scorers).
    std::vector<int64_t> load = running;
    b.targets.assign(b.entries.size(), -1);
    for (size_t i = 0; i < b.entries.size(); ++i)
        if (b.entries[i].assigned >= 0) ++load[size_t(b.targets[i] = b.entries[i].assigned)];
    for (size_t i = 0; i < b.entries.size(); ++i) {
        if (b.targets[i] >= 0) continue;
        size_t best = 0;
        for (size_t t = 1; t < load.size(); ++t)
            if (load[t] < load[best]) best = t;
        b.targets[i] = int(best);
        ++load[best];
    }
    b.gate.cancel();
}

asio::awaitable<void> Runner::exchange(Request& req, TargetState& ts) {
    auto ex = std::make_shared<Exchange>(ioc_.get_executor());
    live_.insert(ex.get());
    ex->timer.expires_at(req.issued + real(opt_.timeout));
    ex->timer.async_wait([ex](error_code ec) {
        if (!ec) ex->abort("timeout");
    });
    const std::string class_header =
        opt_.class_header.empty() ? "" : fmt::format("{}: {}\r\n", opt_.class_header, opt_.mix[req.header_class].name);
    const size_t body_size = body_head_.size() + req.prompt.size() + body_tail_.size();
    const std::string head_tail = fmt::format("{}Content-Length: {}\r\n\r\n", class_header, body_size);
    const std::array<asio::const_buffer, 6> out{asio::buffer(ts.head),        asio::buffer(head_tail),
                                                asio::buffer(body_head_),     asio::buffer(req.prompt.prefix),
                                                asio::buffer(req.prompt.suffix), asio::buffer(body_tail_)};
    std::array<char, 32 * 1024> buf;
    for (int attempt = 0;; ++attempt) {
        tcp::socket sock(ioc_);
        const bool reused = !ts.idle.empty() && attempt == 0;
        if (reused) {
            sock = std::move(ts.idle.back());
            ts.idle.pop_back();
        }
        ex->socket = &sock;
        StreamResponse resp(events_);
        std::string error;
        auto now = [this] { return since_start(Clock::now()); };
        if (ex->abort_reason) {
            error = ex->abort_reason;
        } else if (!reused) {
            auto [ec] = co_await sock.async_connect(ts.endpoint, kAwait);
            if (ec) error = ex->abort_reason ? ex->abort_reason : fmt::format("connect: {}", ec.message());
            else sock.set_option(tcp::no_delay(true), ec);
        }
        if (error.empty()) {
            auto [ec, n] = co_await asio::async_write(sock, out, kAwait);
            if (ec) error = ex->abort_reason ? ex->abort_reason : fmt::format("write: {}", ec.message());
        }
        StreamResponse::State st = StreamResponse::State::failed;
        if (error.empty()) {
            st = StreamResponse::State::more;
            while (st == StreamResponse::State::more) {
                auto [ec, n] = co_await sock.async_read_some(asio::buffer(buf), kAwait);
                if (ec == asio::error::eof) {
                    st = resp.eof(now());
                } else if (ec) {
                    error = ex->abort_reason ? ex->abort_reason : fmt::format("read: {}", ec.message());
                    st = StreamResponse::State::failed;
                } else {
                    st = resp.feed(std::string_view(buf.data(), n), now());
                }
            }
        }
        ex->socket = nullptr;
        // A kept-alive connection the server closed meanwhile fails before
        // any byte of a response: try once more on a new connection.
        if (st == StreamResponse::State::failed && reused && !resp.got_bytes() && !ex->abort_reason) continue;
        const bool complete = st == StreamResponse::State::complete;
        if (error.empty() && !complete) error = resp.error();
        finish_record(records_[req.id], req, resp, complete, std::move(error));
        if (complete && resp.keep_alive() && !resp.leftover() && sock.is_open() && !stopping_)
            ts.idle.push_back(std::move(sock));
        break;
    }
    ex->finished = true;
    ex->timer.cancel();
    live_.erase(ex.get());
}

void Runner::finish_record(Record& rec, const Request& req, const StreamResponse& resp, bool complete,
                           std::string error) {
    const double issued = since_start(req.issued);
    const double to_ms = opt_.time_scale * 1e3;
    const double end = since_start(Clock::now());
    rec.status = resp.status();
    rec.end_s = end * opt_.time_scale;
    rec.e2e_ms = (end - issued) * to_ms;
    if (resp.status() == 200 && complete && !resp.saw_done() && error.empty()) error = "stream ended without [DONE]";
    rec.error = std::move(error);
    if (!resp.replica().empty()) rec.replica = replica_index(resp.replica());
    if (resp.has_first_token()) rec.ttft_ms = (resp.first_token_time() - issued) * to_ms;
    if (resp.tokens_after_first() > 0)
        rec.itl_ms = (resp.last_token_time() - resp.first_token_time()) / resp.tokens_after_first() * to_ms;
    rec.output_tokens = resp.has_usage() ? resp.usage_completion_tokens() : resp.text_tokens();
    rec.prompt_tokens = resp.has_usage() ? resp.usage_prompt_tokens()
                                         : uint32_t((req.prompt.size() + opt_.chars_per_token - 1) / opt_.chars_per_token);
}

int32_t Runner::replica_index(const std::string& name) {
    auto [it, fresh] = replica_ids_.try_emplace(name, int32_t(replicas_.size()));
    if (fresh) replicas_.push_back(name);
    return it->second;
}

void Runner::sender_done() {
    if (--senders_ > 0) return;
    draining_ = true;
    drain_timer_.expires_after(real(opt_.drain));
    drain_timer_.async_wait([this](error_code ec) {
        if (!ec) stop_all("not finished at drain deadline");
    });
    maybe_done();
}

void Runner::maybe_done() {
    if (!draining_ || inflight_ > 0 || done_) return;
    done_ = true;
    record_usage();
    drain_timer_.cancel();
    error_code ignored;
    signals_.cancel(ignored);
    for (auto& t : targets_) {
        for (auto& s : t.idle) s.close(ignored);
        t.idle.clear();
    }
}

void Runner::stop_all(const char* why) {
    stopping_ = true;
    open_timer_.cancel();
    burst_timer_.cancel();
    // Copy: abort() makes coroutines resume later, never re-entrantly,
    // but keep the iteration independent of the set anyway.
    std::vector<Exchange*> live(live_.begin(), live_.end());
    for (Exchange* e : live) e->abort(why);
    if (batch_) {
        batch_->seal.cancel();  // seals now
    }
}

RunResult Runner::result() {
    RunResult out;
    out.info.classes = class_names_;
    out.info.replicas = replicas_;
    if (opt_.concurrency > 0) {
        out.info.mode = "closed";
    } else if (opt_.workload == Workload::burst) {
        out.info.mode = "burst";
    } else {
        out.info.mode = "open";
        for (size_t i = 0; i < opt_.schedule.size(); ++i)
            out.info.stages.push_back({opt_.schedule[i].qps, arrivals_.stage_start(i), arrivals_.stage_start(i + 1)});
        out.info.nominal_end_s = arrivals_.end();
    }
    if (!done_) record_usage();
    out.info.wall_seconds = since_start(done_at_) * opt_.time_scale;
    out.info.cpu_seconds = usage_used_.cpu_seconds;
    out.info.involuntary_switches = usage_used_.involuntary_switches;
    out.info.time_scale = opt_.time_scale;
    out.records = std::move(records_);
    return out;
}

}  // namespace

bool run_load(const Options& opt, RunResult& out, std::string& error) {
    std::signal(SIGPIPE, SIG_IGN);
    asio::io_context ioc{1};
    Runner runner(opt, ioc);
    if (!runner.setup(error)) return false;
    runner.start();
    ioc.run();
    out = runner.result();
    return true;
}

}  // namespace infergate::loadgen
