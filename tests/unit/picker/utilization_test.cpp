// utilization-detector (saturation and filter), utilization-filter, and the
// pool's saturation detector as the config names it: table-driven, with
// every parameter rejection at its file:line:col through real YAML.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config/loader.hpp"
#include "helpers.hpp"
#include "picker/scheduler_impl.hpp"
#include "picker/utilization.hpp"

using namespace picker_test;
using namespace infergate::picker;
using std::chrono::milliseconds;

namespace {

// One endpoint's state in a scenario.
struct Ep {
    enum class State { never, fresh, stale, failed, down } state = State::fresh;
    double waiting = 0;
    double kv = 0;
    int64_t in_flight = 0;
};

struct Fleet {
    std::vector<std::shared_ptr<EndpointState>> eps;
    Clock::time_point now = Clock::now();

    explicit Fleet(const std::vector<Ep>& spec) {
        for (size_t i = 0; i < spec.size(); ++i) {
            eps.push_back(endpoint("10.0.0." + std::to_string(i + 1), 8000));
            EndpointState& e = *eps.back();
            const Ep& s = spec[i];
            e.in_flight = s.in_flight;
            const EngineMetrics m{s.waiting, 0, s.kv};
            switch (s.state) {
                case Ep::State::never: break;
                case Ep::State::fresh: e.publish(m, now - milliseconds(10)); break;
                case Ep::State::stale: e.publish(m, now - milliseconds(1000)); break;
                case Ep::State::failed:
                    e.publish(m, now - milliseconds(10));
                    e.scrape_failed(now);
                    break;
                case Ep::State::down:
                    e.publish(m, now - milliseconds(10));
                    e.down = true;
                    break;
            }
        }
    }
    std::vector<EndpointState*> raw() const {
        std::vector<EndpointState*> out;
        for (const auto& e : eps) out.push_back(e.get());
        return out;
    }
    // Indexes of `kept` in eps.
    std::vector<size_t> indexes(const std::vector<EndpointState*>& kept, size_t n) const {
        std::vector<size_t> out;
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < eps.size(); ++j)
                if (kept[i] == eps[j].get()) out.push_back(j);
        return out;
    }
};

using S = Ep::State;

std::string pool_config(const std::string& scheduler) {
    return "listeners:\n"
           "  - name: main\n"
           "    address: 127.0.0.1:0\n"
           "routes:\n"
           "  - name: all\n"
           "    backends:\n"
           "      - pool: p\n"
           "pools:\n"
           "  - name: p\n"
           "    endpoints:\n"
           "      - address: 127.0.0.1:8001\n"
           "    scheduler:\n" +
           scheduler;
}

BuildResult build_yaml(const std::string& scheduler) {
    auto loaded = infergate::config::load_config_string(pool_config(scheduler), "u.yaml");
    for (const auto& e : loaded.errors) FAIL_CHECK(e.to_string());
    REQUIRE(loaded.ok());
    return build_scheduler(loaded.config->pools.at(0).scheduler);
}

const UtilizationDetector* detector_of(const BuildResult& r) {
    REQUIRE(r.scheduler);
    const auto* d = dynamic_cast<const UtilizationDetector*>(r.scheduler->saturation_detector());
    REQUIRE(d);
    return d;
}

}  // namespace

TEST_CASE("utilization-detector: pool saturation (mean roofline score; stale is saturated)") {
    struct Case {
        const char* name;
        std::vector<Ep> eps;
        double want;
    };
    const Case cases[] = {
        {"empty pool", {}, 1.0},
        {"no metrics yet", {{S::never}, {S::never}}, 1.0},
        {"all stale, idle", {{S::stale, 0, 0}, {S::stale, 0, 0}}, 1.0},
        {"last scrape failed", {{S::failed, 0, 0}}, 1.0},
        {"all idle", {{S::fresh, 0, 0}, {S::fresh, 0, 0}}, 0.0},
        {"queue at threshold", {{S::fresh, 5, 0}}, 1.0},
        {"kv at threshold", {{S::fresh, 0, 0.8}}, 1.0},
        {"roofline takes the worse resource", {{S::fresh, 1, 0.4}}, 0.5},
        {"all saturated", {{S::fresh, 10, 0.1}, {S::fresh, 0, 0.96}}, 1.6},
        {"mean, not all: one overloaded, one idle", {{S::fresh, 10, 0}, {S::fresh, 0, 0}}, 1.0},
        {"mean below 1", {{S::fresh, 4, 0}, {S::fresh, 0, 0.4}}, 0.65},
        {"one stale among idle", {{S::stale, 0, 0}, {S::fresh, 0, 0}}, 0.5},
        {"down endpoints are not candidates", {{S::down, 50, 1}, {S::fresh, 0, 0.4}}, 0.5},
        {"every endpoint down", {{S::down, 0, 0}}, 1.0},
    };
    const UtilizationDetector d("d", UtilizationDetector::Params{});
    for (const Case& c : cases) {
        CAPTURE(c.name);
        Fleet f(c.eps);
        CHECK(d.saturation(f.eps, f.now) == doctest::Approx(c.want));
    }
}

TEST_CASE("utilization-detector: thresholds and staleness are parameters") {
    UtilizationDetector::Params p;
    p.queue_depth_threshold = 10;
    p.kv_cache_util_threshold = 0.5;
    p.metrics_staleness_threshold = milliseconds(2000);
    const UtilizationDetector d("d", p);
    Fleet f({{S::fresh, 5, 0.1}, {S::stale, 0, 0.25}});  // stale = 1000 ms old: fresh under 2 s
    CHECK(d.endpoint_score(*f.eps[0], f.now) == doctest::Approx(0.5));
    CHECK(d.endpoint_score(*f.eps[1], f.now) == doctest::Approx(0.5));
    CHECK(d.saturation(f.eps, f.now) == doctest::Approx(0.5));
    // 300 ms old is stale under the default 200 ms.
    const UtilizationDetector strict("s", UtilizationDetector::Params{});
    Fleet g({{S::fresh, 0, 0}});
    CHECK(strict.endpoint_score(*g.eps[0], g.now + milliseconds(300)) == 1.0);
    CHECK(strict.endpoint_score(*g.eps[0], g.now + milliseconds(150)) == 0.0);
}

TEST_CASE("utilization-detector as a filter: limits with headroom; keeps all when it would drop all") {
    struct Case {
        const char* name;
        double headroom;
        std::vector<Ep> eps;
        std::vector<size_t> kept;
    };
    const Case cases[] = {
        {"under the limits", 0, {{S::fresh, 4, 0.79}, {S::fresh, 0, 0}}, {0, 1}},
        {"queue at the limit is over (strict <)", 0, {{S::fresh, 5, 0}, {S::fresh, 0, 0}}, {1}},
        {"kv at the limit is over", 0, {{S::fresh, 0, 0.8}, {S::fresh, 0, 0.1}}, {1}},
        {"stale is dropped", 0, {{S::stale, 0, 0}, {S::fresh, 1, 0.1}}, {1}},
        {"never scraped is dropped", 0, {{S::never}, {S::fresh, 1, 0.1}, {S::never}}, {1}},
        {"headroom 0.2: queue limit 6", 0.2, {{S::fresh, 5, 0}, {S::fresh, 6, 0}}, {0}},
        {"headroom 0.2: kv limit 0.96", 0.2, {{S::fresh, 0, 0.95}, {S::fresh, 0, 0.96}}, {0}},
        {"all saturated: keep all, in order", 0, {{S::fresh, 9, 0}, {S::fresh, 0, 0.9}, {S::fresh, 5, 0.8}}, {0, 1, 2}},
        {"all stale: keep all", 0, {{S::stale, 0, 0}, {S::stale, 0, 0}}, {0, 1}},
        {"order among the kept is preserved", 0,
         {{S::fresh, 9, 0}, {S::fresh, 1, 0}, {S::fresh, 9, 0}, {S::fresh, 2, 0}, {S::fresh, 3, 0}}, {1, 3, 4}},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        UtilizationDetector::Params p;
        p.headroom = c.headroom;
        const UtilizationDetector d("d", p);
        Fleet f(c.eps);
        auto cands = f.raw();
        const size_t n = d.filter_at(cands, f.now);
        CHECK(f.indexes(cands, n) == c.kept);
    }
}

TEST_CASE("utilization-filter: every condition must hold; fallbackOnEmpty") {
    using M = UtilizationFilter::Metric;
    struct Case {
        const char* name;
        std::vector<UtilizationFilter::Condition> conds;
        bool fallback;
        std::vector<Ep> eps;
        std::vector<size_t> kept;
    };
    const Case cases[] = {
        {"waiting <= max keeps equality", {{M::waiting_queue, 2}}, false,
         {{S::fresh, 2, 0}, {S::fresh, 3, 0}}, {0}},
        {"kv", {{M::kv_cache_utilization, 0.5}}, false, {{S::fresh, 0, 0.6}, {S::fresh, 0, 0.5}}, {1}},
        {"active-requests reads infergate's in-flight count", {{M::active_requests, 1}}, false,
         {{S::fresh, 0, 0, 2}, {S::fresh, 0, 0, 1}, {S::fresh, 0, 0, 0}}, {1, 2}},
        {"all conditions (an OR of overload rules)", {{M::waiting_queue, 0}, {M::kv_cache_utilization, 0.8}}, false,
         {{S::fresh, 1, 0.1}, {S::fresh, 0, 0.9}, {S::fresh, 0, 0.2}}, {2}},
        {"missing metrics read as 0", {{M::waiting_queue, 0}}, false, {{S::never}}, {0}},
        {"drops all without fallbackOnEmpty", {{M::waiting_queue, 0}}, false, {{S::fresh, 1, 0}, {S::fresh, 2, 0}}, {}},
        {"keeps all with fallbackOnEmpty", {{M::waiting_queue, 0}}, true,
         {{S::fresh, 1, 0}, {S::fresh, 2, 0}}, {0, 1}},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        const UtilizationFilter uf("f", c.conds, c.fallback);
        Fleet f(c.eps);
        auto cands = f.raw();
        const size_t n = uf.filter(SchedulingRequest{}, cands);
        CHECK(f.indexes(cands, n) == c.kept);
    }
}

TEST_CASE("utilization plugins: parameters from YAML, defaults as the reference") {
    const BuildResult r = build_yaml(
        "      plugins:\n"
        "        - type: utilization-detector\n"
        "          parameters:\n"
        "            queueDepthThreshold: 8\n"
        "            kvCacheUtilThreshold: 0.9\n"
        "            metricsStalenessThreshold: 1.5s\n"
        "            headroom: 0.25\n"
        "        - type: utilization-filter\n"
        "          parameters:\n"
        "            conditions:\n"
        "              - metric: running-requests\n"
        "                maxValue: 40\n"
        "              - metric: kv-cache-utilization\n"
        "                maxValue: 0.8\n"
        "            fallbackOnEmpty: true\n"
        "            inFlightLoadProducerName: x\n");
    const UtilizationDetector* d = detector_of(r);
    CHECK(d->params().queue_depth_threshold == 8);
    CHECK(d->params().kv_cache_util_threshold == 0.9);
    CHECK(d->params().metrics_staleness_threshold == milliseconds(1500));
    CHECK(d->params().headroom == 0.25);
    // With no profile, the default profile holds both filters (file order).
    REQUIRE(r.scheduler->filters().size() == 2);
    CHECK(r.scheduler->filters()[0] == static_cast<const Filter*>(d));
    const auto* uf = dynamic_cast<const UtilizationFilter*>(r.scheduler->filters()[1]);
    REQUIRE(uf);
    CHECK(uf->conditions().size() == 2);
    CHECK(uf->fallback_on_empty());

    // The reference's defaults.
    const BuildResult defaults = build_yaml("      plugins:\n        - type: utilization-detector\n");
    const UtilizationDetector* def = detector_of(defaults);  // owned by `defaults`
    CHECK(def->params().queue_depth_threshold == 5);
    CHECK(def->params().kv_cache_util_threshold == 0.8);
    CHECK(def->params().metrics_staleness_threshold == milliseconds(200));
    CHECK(def->params().headroom == 0.0);
}

TEST_CASE("utilization plugins: every bad parameter is rejected at file:line:col") {
    struct Case {
        const char* yaml;  // the plugins list
        const char* where;
        const char* message;
    };
    const Case cases[] = {
        {"        - type: utilization-detector\n          parameters: {queueDepthThreshold: 0}\n", "u.yaml:15:45",
         "parameter 'queueDepthThreshold' of plugin 'utilization-detector' must be between 1 and 2147483647, got 0"},
        {"        - type: utilization-detector\n          parameters: {kvCacheUtilThreshold: 1.5}\n", "u.yaml:15:46",
         "parameter 'kvCacheUtilThreshold' of plugin 'utilization-detector' must be in (0.0, 1.0], got 1.5"},
        {"        - type: utilization-detector\n          parameters: {kvCacheUtilThreshold: 0}\n", "u.yaml:15:46",
         "parameter 'kvCacheUtilThreshold' of plugin 'utilization-detector' must be in (0.0, 1.0], got 0"},
        {"        - type: utilization-detector\n          parameters: {metricsStalenessThreshold: 0ms}\n",
         "u.yaml:15:51", "parameter 'metricsStalenessThreshold' of plugin 'utilization-detector' must be a positive "
                         "duration"},
        {"        - type: utilization-detector\n          parameters: {metricsStalenessThreshold: soon}\n",
         "u.yaml:15:51", "must be a positive duration"},
        {"        - type: utilization-detector\n          parameters: {headroom: -0.1}\n", "u.yaml:15:34",
         "parameter 'headroom' of plugin 'utilization-detector' must be a non-negative value, got -0.1"},
        {"        - type: utilization-detector\n          parameters: {queueDepth: 3}\n", "u.yaml:15:24",
         "unknown parameter 'queueDepth' for plugin 'utilization-detector' (type 'utilization-detector')"},
        {"        - type: utilization-filter\n", "u.yaml:14:11",
         "plugin 'utilization-filter' (utilization-filter) needs parameter 'conditions' with at least one condition"},
        {"        - type: utilization-filter\n          parameters: {conditions: []}\n", "u.yaml:15:36",
         "parameter 'conditions' of plugin 'utilization-filter' must be a list of at least one {metric, maxValue}"},
        {"        - type: utilization-filter\n          parameters:\n            conditions:\n"
         "              - {metric: waiting-queues, maxValue: 1}\n",
         "u.yaml:17:26",
         "conditions[0].metric of plugin 'utilization-filter' must be one of 'active-requests', 'running-requests', "
         "'waiting-queue', 'kv-cache-utilization', got 'waiting-queues' (did you mean 'waiting-queue'?)"},
        {"        - type: utilization-filter\n          parameters:\n            conditions:\n"
         "              - {metric: kv-cache-utilization, maxValue: 1.5}\n",
         "u.yaml:17:58", "conditions[0].maxValue of plugin 'utilization-filter' is a fraction for kv-cache-utilization "
                         "and must be at most 1, got 1.5"},
        {"        - type: utilization-filter\n          parameters:\n            conditions:\n"
         "              - {metric: waiting-queue, maxValue: -1}\n",
         "u.yaml:17:51", "parameter 'conditions[0].maxValue' of plugin 'utilization-filter' must be non-negative, got -1"},
        {"        - type: utilization-filter\n          parameters:\n            conditions:\n"
         "              - {metric: waiting-queue}\n",
         "u.yaml:17:17", "conditions[0] of plugin 'utilization-filter' needs a 'maxValue'"},
        {"        - type: utilization-filter\n          parameters:\n            conditions:\n"
         "              - {metric: waiting-queue, maxValue: 1, max: 2}\n",
         "u.yaml:17:54", "unknown parameter 'conditions[0].max' for plugin 'utilization-filter'"},
        {"        - type: utilization-filter\n          parameters:\n            conditions: [waiting-queue]\n",
         "u.yaml:16:26", "parameter 'conditions[0]' of plugin 'utilization-filter' must be a map"},
    };
    for (const Case& c : cases) {
        INFO(std::string(c.yaml));
        auto loaded = infergate::config::load_config_string(pool_config("      plugins:\n" + std::string(c.yaml)),
                                                            "u.yaml");
        REQUIRE(loaded.ok());
        const BuildResult r = build_scheduler(loaded.config->pools.at(0).scheduler);
        CHECK(r.scheduler == nullptr);
        REQUIRE(r.errors.size() == 1);
        const std::string got = r.errors[0].to_string();
        INFO(got);
        CHECK(got.rfind(c.where, 0) == 0);
        CHECK(got.find(c.message) != std::string::npos);
    }
}

TEST_CASE("saturation detector: named by flowControl or the deprecated top-level section, default otherwise") {
    // No scheduler section: the default detector with default parameters.
    {
        BuildResult r = build_scheduler(infergate::config::SchedulerConfig{});
        CHECK(detector_of(r)->params().queue_depth_threshold == 5);
        CHECK(r.scheduler->filters().empty());
    }
    // A section without a detector: the default one, in no profile.
    {
        BuildResult r = build_yaml("      plugins:\n        - type: queue-scorer\n");
        CHECK(detector_of(r)->name() == "utilization-detector");
        CHECK(r.scheduler->filters().empty());
    }
    // A plugin named utilization-detector is the pool's detector.
    {
        BuildResult r = build_yaml(
            "      plugins:\n        - type: utilization-detector\n          parameters: {queueDepthThreshold: 7}\n");
        CHECK(detector_of(r)->params().queue_depth_threshold == 7);
    }
    // flowControl.saturationDetector.pluginRef, as the reference's sample
    // deploy/config/probabilistic-admitter-epp-config.yaml writes it.
    const std::string two =
        "      plugins:\n"
        "        - type: utilization-detector\n"
        "          name: strict\n"
        "          parameters: {queueDepthThreshold: 1}\n"
        "        - type: utilization-detector\n"
        "          name: loose\n"
        "          parameters: {queueDepthThreshold: 100}\n"
        "      schedulingProfiles:\n"
        "        - name: default\n"
        "          plugins:\n"
        "            - pluginRef: loose\n";
    CHECK(detector_of(build_yaml(two + "      flowControl:\n        saturationDetector:\n          pluginRef: strict\n"))
              ->name() == "strict");
    CHECK(detector_of(build_yaml(two + "      saturationDetector:\n        pluginRef: loose\n"))->name() == "loose");
    // Both set: the new field wins (configloader.go LoadRawConfig).
    CHECK(detector_of(build_yaml(two +
                                 "      saturationDetector: {pluginRef: loose}\n"
                                 "      flowControl: {saturationDetector: {pluginRef: strict}, maxBytes: 1}\n"))
              ->name() == "strict");
    // Only the profile decides the filters: 'strict' detects, 'loose' filters.
    {
        BuildResult r = build_yaml(two + "      flowControl: {saturationDetector: {pluginRef: strict}}\n");
        REQUIRE(r.scheduler->filters().size() == 1);
        CHECK(r.scheduler->filters()[0]->name() == "loose");
    }
}

TEST_CASE("saturation detector: a pluginRef that is missing or not a detector is rejected at its position") {
    struct Case {
        const char* yaml;
        const char* error;
    };
    const Case cases[] = {
        {"      plugins:\n        - type: queue-scorer\n"
         "      flowControl:\n        saturationDetector:\n          pluginRef: utilisation-detector\n",
         "u.yaml:17:22: saturation detector plugin 'utilisation-detector' is not among the plugins"},
        {"      plugins:\n        - type: utilization-detector\n          name: sat\n"
         "      saturationDetector: {pluginRef: sta}\n",
         "u.yaml:16:39: saturation detector plugin 'sta' is not among the plugins (did you mean 'sat'?)"},
        {"      plugins:\n        - type: queue-scorer\n"
         "      flowControl: {saturationDetector: {pluginRef: queue-scorer}}\n",
         "u.yaml:15:53: saturation detector 'queue-scorer' is a scorer (queue-scorer), not a saturation detector "
         "such as utilization-detector"},
        {"      plugins:\n        - type: utilization-filter\n          name: utilization-detector\n"
         "          parameters: {conditions: [{metric: waiting-queue, maxValue: 1}]}\n",
         "saturation detector 'utilization-detector' is a filter (utilization-filter), not a saturation detector"},
    };
    for (const Case& c : cases) {
        INFO(std::string(c.yaml));
        auto loaded = infergate::config::load_config_string(pool_config(c.yaml), "u.yaml");
        for (const auto& e : loaded.errors) FAIL_CHECK(e.to_string());
        REQUIRE(loaded.ok());
        const BuildResult r = build_scheduler(loaded.config->pools.at(0).scheduler);
        CHECK(r.scheduler == nullptr);
        REQUIRE(r.errors.size() == 1);
        INFO(r.errors[0].to_string());
        CHECK(r.errors[0].to_string().find(c.error) != std::string::npos);
    }
    // The section's shape is the config loader's to check.
    auto bad = infergate::config::load_config_string(
        pool_config("      plugins:\n        - type: queue-scorer\n      flowControl: {saturationDetector: x}\n"),
        "u.yaml");
    REQUIRE(bad.errors.size() == 1);
    CHECK(bad.errors[0].to_string() == "u.yaml:15:41: pools[0].scheduler.flowControl.saturationDetector must be a map, got 'x'");
}
