// PoolPicker: the order of decisions, and no allocation per pick.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <map>
#include <new>

#include "helpers.hpp"
#include "picker/scheduler.hpp"

// Counts heap allocations in this test executable, to prove that a pick
// allocates nothing once the scratch space has grown.
namespace {
std::atomic<size_t> g_allocations{0};
}
void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
// The nothrow forms too (std::stable_sort's temporary buffer uses them):
// left to the library, they would pair ASan's operator new with our free.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n ? n : 1);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace picker_test;
using namespace infergate::picker;
using std::chrono::milliseconds;

namespace {

struct Pool {
    std::vector<std::shared_ptr<EndpointState>> eps;
    Clock::time_point now = Clock::now();

    explicit Pool(size_t n) {
        for (size_t i = 0; i < n; ++i) eps.push_back(endpoint("10.0.0." + std::to_string(i + 1), 8000));
    }
    void fresh(size_t i, double waiting, double kv) { eps[i]->publish(EngineMetrics{waiting, 0, kv}, now); }
    void stale(size_t i, double waiting, double kv) {
        eps[i]->publish(EngineMetrics{waiting, 0, kv}, now - milliseconds(1000));
    }
    PoolPicker picker(infergate::config::FailureMode mode = infergate::config::FailureMode::fail_open) const {
        return PoolPicker("pool", eps, build_scheduler(infergate::config::SchedulerConfig{}).scheduler,
                          milliseconds(200), mode);
    }
};

}  // namespace

TEST_CASE("pool picker: the default profile prefers short queues and free KV cache") {
    Pool p(3);
    p.fresh(0, 10, 0.9);
    p.fresh(1, 0, 0.1);
    p.fresh(2, 5, 0.5);
    const auto pp = p.picker();
    PickScratch scratch;
    const auto r = pp.pick(SchedulingRequest{}, p.now, nullptr, scratch);
    CHECK(r.status == PickResult::Status::ok);
    CHECK(r.endpoint == p.eps[1].get());
    CHECK(r.reason == "scored");
    // Totals = 2 * queue score + 2 * (1 - kv).
    CHECK(p.eps[0]->last_score.load() == doctest::Approx(0 + 2 * 0.1));
    CHECK(p.eps[1]->last_score.load() == doctest::Approx(2 + 2 * 0.9));
    CHECK(p.eps[2]->last_score.load() == doctest::Approx(1 + 2 * 0.5));
}

TEST_CASE("pool picker: stale endpoints are avoided while a fresh one exists") {
    Pool p(3);
    p.fresh(0, 50, 0.95);  // the worst by metrics, but the only fresh one
    p.stale(1, 0, 0);
    p.stale(2, 0, 0);
    const auto pp = p.picker();
    PickScratch scratch;
    for (int i = 0; i < 50; ++i) {
        const auto r = pp.pick(SchedulingRequest{}, p.now, nullptr, scratch);
        REQUIRE(r.status == PickResult::Status::ok);
        CHECK(r.endpoint == p.eps[0].get());
    }
    CHECK(std::isnan(p.eps[1]->last_score.load()));  // never scored
}

TEST_CASE("pool picker: fail-open picks the least in-flight, random among ties") {
    Pool p(3);
    for (size_t i = 0; i < 3; ++i) p.stale(i, 0, 0);
    p.eps[0]->in_flight = 3;
    p.eps[1]->in_flight = 1;
    p.eps[2]->in_flight = 1;
    const auto pp = p.picker();
    PickScratch scratch;
    scratch.rng.seed(42);
    std::map<EndpointState*, int> seen;
    for (int i = 0; i < 400; ++i) {
        const auto r = pp.pick(SchedulingRequest{}, p.now, nullptr, scratch);
        REQUIRE(r.status == PickResult::Status::ok);
        CHECK(r.reason == "fail-open: no fresh metrics");
        ++seen[r.endpoint];
    }
    CHECK(seen.count(p.eps[0].get()) == 0);
    CHECK(seen[p.eps[1].get()] > 100);
    CHECK(seen[p.eps[2].get()] > 100);

    // Never scraped counts as not fresh too; a down endpoint is still skipped.
    Pool q(2);
    q.eps[0]->down = true;
    const auto r = q.picker().pick(SchedulingRequest{}, q.now, nullptr, scratch);
    CHECK(r.status == PickResult::Status::ok);
    CHECK(r.endpoint == q.eps[1].get());
}

TEST_CASE("pool picker: fail-close refuses without fresh metrics") {
    Pool p(2);
    p.stale(0, 0, 0);
    p.eps[1]->scrape_failed(p.now);
    const auto pp = p.picker(infergate::config::FailureMode::fail_close);
    PickScratch scratch;
    const auto r = pp.pick(SchedulingRequest{}, p.now, nullptr, scratch);
    CHECK(r.status == PickResult::Status::no_fresh_metrics);
    CHECK(r.endpoint == nullptr);
    CHECK(r.reason == "fail-close: no fresh metrics");
    p.fresh(1, 0, 0);
    CHECK(pp.pick(SchedulingRequest{}, p.now, nullptr, scratch).endpoint == p.eps[1].get());
}

TEST_CASE("pool picker: all down, empty pool") {
    PickScratch scratch;
    for (auto mode : {infergate::config::FailureMode::fail_open, infergate::config::FailureMode::fail_close}) {
        Pool p(2);
        p.fresh(0, 0, 0);
        p.fresh(1, 0, 0);
        p.eps[0]->down = true;
        p.eps[1]->down = true;
        const auto r = p.picker(mode).pick(SchedulingRequest{}, p.now, nullptr, scratch);
        CHECK(r.status == PickResult::Status::no_healthy_endpoint);
        CHECK(r.endpoint == nullptr);

        Pool empty(0);
        CHECK(empty.picker(mode).pick(SchedulingRequest{}, empty.now, nullptr, scratch).status ==
              PickResult::Status::no_healthy_endpoint);
    }
}

TEST_CASE("pool picker: exclude skips an endpoint for the retry") {
    Pool p(2);
    p.fresh(0, 0, 0);   // the best
    p.fresh(1, 9, 0.9);
    const auto pp = p.picker();
    PickScratch scratch;
    CHECK(pp.pick(SchedulingRequest{}, p.now, nullptr, scratch).endpoint == p.eps[0].get());
    CHECK(pp.pick(SchedulingRequest{}, p.now, p.eps[0].get(), scratch).endpoint == p.eps[1].get());
    // Fail-open honours exclude too.
    p.stale(0, 0, 0);
    p.stale(1, 0, 0);
    p.eps[1]->in_flight = 5;
    CHECK(pp.pick(SchedulingRequest{}, p.now, p.eps[0].get(), scratch).endpoint == p.eps[1].get());
    // Excluding the only healthy endpoint leaves none.
    p.eps[1]->down = true;
    CHECK(pp.pick(SchedulingRequest{}, p.now, p.eps[0].get(), scratch).status ==
          PickResult::Status::no_healthy_endpoint);
}

TEST_CASE("pool picker: no allocation per pick in the steady state") {
    Pool p(16);
    for (size_t i = 0; i < 16; ++i) p.fresh(i, double(i % 4), 0.1 * double(i % 5));
    const auto pp = p.picker();
    PickScratch scratch;
    (void)pp.pick(SchedulingRequest{}, p.now, nullptr, scratch);  // grows the scratch once
    const size_t before = g_allocations.load();
    for (int i = 0; i < 1000; ++i) {
        const auto r = pp.pick(SchedulingRequest{}, p.now, p.eps[size_t(i) % 16].get(), scratch);
        if (r.status != PickResult::Status::ok) FAIL("unexpected status");
    }
    CHECK(g_allocations.load() == before);
}

TEST_CASE("pool picker: admission sheds sheddable requests when the pool is saturated") {
    using Mode = infergate::config::FailureMode;
    using St = PickResult::Status;
    struct Case {
        const char* name;
        int priority;
        std::vector<std::pair<double, double>> fresh;  // (waiting, kv) per endpoint; NaN waiting = stale
        Mode mode;
        bool retry;  // second attempt (exclude set)
        St want;
    };
    const double stale = std::nan("");
    const Case cases[] = {
        {"not saturated: sheddable passes", -1, {{0, 0.1}, {4, 0.5}}, Mode::fail_open, false, St::ok},
        {"saturated: sheddable is shed", -1, {{5, 0.1}, {9, 0.9}}, Mode::fail_open, false, St::shed},
        {"saturated: priority 0 still picks", 0, {{5, 0.1}, {9, 0.9}}, Mode::fail_open, false, St::ok},
        {"saturated: critical still picks", 10, {{5, 0.1}, {9, 0.9}}, Mode::fail_open, false, St::ok},
        {"mean >= 1 sheds though one endpoint has room", -5, {{0, 0}, {10, 0}}, Mode::fail_open, false, St::shed},
        {"all stale, fail-open: sheddable shed", -1, {{stale, 0}, {stale, 0}}, Mode::fail_open, false, St::shed},
        {"all stale, fail-open: others fail open", 0, {{stale, 0}, {stale, 0}}, Mode::fail_open, false, St::ok},
        {"all stale, fail-close: sheddable shed", -1, {{stale, 0}, {stale, 0}}, Mode::fail_close, false, St::shed},
        {"all stale, fail-close: others get no_fresh_metrics", 1, {{stale, 0}, {stale, 0}}, Mode::fail_close, false,
         St::no_fresh_metrics},
        {"a retry was admitted already", -1, {{5, 0.1}, {9, 0.9}}, Mode::fail_open, true, St::ok},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        Pool p(c.fresh.size());
        for (size_t i = 0; i < c.fresh.size(); ++i) {
            if (std::isnan(c.fresh[i].first)) p.stale(i, 0, c.fresh[i].second);
            else p.fresh(i, c.fresh[i].first, c.fresh[i].second);
        }
        const auto pp = p.picker(c.mode);
        PickScratch scratch;
        SchedulingRequest req;
        req.priority = c.priority;
        const auto r = pp.pick(req, p.now, c.retry ? p.eps[0].get() : nullptr, scratch);
        CHECK(r.status == c.want);
        if (r.status == St::shed) {
            CHECK(r.endpoint == nullptr);
            CHECK(r.reason == "system saturated, sheddable request dropped");
        }
    }
}

TEST_CASE("pool picker: admission allocates nothing") {
    Pool p(16);
    for (size_t i = 0; i < 16; ++i) p.fresh(i, 9, 0.9);
    const auto pp = p.picker();
    PickScratch scratch;
    SchedulingRequest req;
    req.priority = -1;
    (void)pp.pick(req, p.now, nullptr, scratch);
    const size_t before = g_allocations.load();
    for (int i = 0; i < 1000; ++i)
        if (pp.pick(req, p.now, nullptr, scratch).status != PickResult::Status::shed) FAIL("not shed");
    CHECK(g_allocations.load() == before);
}

TEST_CASE("pool picker: lora-affinity-scorer and label-selector-filter allocate nothing per pick") {
    auto selector = map({{"matchLabels", map({{"tier", scalar("gold", 3, 20)}}, 3, 13)}}, 3, 5);
    auto built = build_scheduler(scheduler_config(
        {plugin("lora-affinity-scorer", 1), plugin("label-selector-filter", 2, "", selector),
         plugin("max-score-picker", 4)},
        {}));
    REQUIRE(built.scheduler);
    std::vector<std::shared_ptr<EndpointState>> eps;
    const auto now = Clock::now();
    for (size_t i = 0; i < 16; ++i) {
        infergate::config::Endpoint e;
        e.address.host = "10.0.0." + std::to_string(i + 1);
        e.address.port = 8000;
        e.labels["tier"] = i % 2 ? "gold" : "silver";
        eps.push_back(std::make_shared<EndpointState>("pool", std::move(e)));
        LoraAdapters l;
        l.add_running(i == 5 ? "sql-lora" : "other-lora");
        l.max_lora = 1;
        eps.back()->publish(EngineMetrics{0, 0, 0, l}, now);
    }
    const PoolPicker pp("pool", eps, built.scheduler, milliseconds(200), infergate::config::FailureMode::fail_open);
    PickScratch scratch;
    SchedulingRequest req;
    req.model = "sql-lora";
    (void)pp.pick(req, now, nullptr, scratch);  // grows the scratch once
    const size_t before = g_allocations.load();
    size_t on_5 = 0;
    for (int i = 0; i < 1000; ++i) {
        const auto r = pp.pick(req, now, nullptr, scratch);
        if (r.status != PickResult::Status::ok) FAIL("unexpected status");
        on_5 += r.endpoint == eps[5].get();
    }
    CHECK(g_allocations.load() == before);
    CHECK(on_5 == 1000);  // the gold endpoint running the adapter
}
