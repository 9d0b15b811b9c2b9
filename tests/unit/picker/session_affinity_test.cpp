// session-affinity-scorer: parameters through real YAML, scoring by token.
#include <doctest/doctest.h>

#include <map>

#include "config/loader.hpp"
#include "helpers.hpp"
#include "picker/builtin_plugins.hpp"
#include "picker/scheduler.hpp"
#include "picker/scheduler_impl.hpp"

using namespace infergate;

namespace {

picker::BuildResult build(const std::string& plugins) {
    const auto loaded = picker_test::load_pool_config("    scheduler:\n      plugins:\n" + plugins);
    for (const auto& e : loaded.errors) FAIL_CHECK(e.to_string());
    REQUIRE(loaded.ok());
    return picker::build_scheduler(loaded.config->pools.at(0).scheduler);
}

std::vector<std::string> errors(const picker::BuildResult& r) {
    std::vector<std::string> out;
    for (const auto& e : r.errors) out.push_back(e.to_string());
    return out;
}

struct Headers final : picker::RequestHeaders {
    std::map<std::string, std::string, std::less<>> h;
    std::string_view get(std::string_view name) const override {
        auto it = h.find(name);
        return it == h.end() ? std::string_view{} : std::string_view(it->second);
    }
};

}  // namespace

TEST_CASE("session-affinity-scorer: tokens are base64(host:port), as the reference's encoding") {
    auto a = picker_test::endpoint("10.0.0.1", 8000);
    auto b = picker_test::endpoint("::1", 8001);
    CHECK(a->token() == "MTAuMC4wLjE6ODAwMA==");  // base64("10.0.0.1:8000")
    CHECK(b->token() == "Wzo6MV06ODAwMQ==");      // base64("[::1]:8001")
    CHECK(a->uid() != b->uid());
}

TEST_CASE("session-affinity-scorer: 1 for the endpoint named by the header, 0 for the others") {
    auto r = build("        - type: session-affinity-scorer\n");
    REQUIRE(r.scheduler);
    const auto& sched = *r.scheduler;
    REQUIRE(sched.scorers().size() == 1);
    const picker::Scorer& s = *sched.scorers()[0].scorer;
    REQUIRE(picker::session_headers(sched).size() == 1);
    CHECK(picker::session_headers(sched)[0] == "x-session-token");

    std::vector<std::shared_ptr<picker::EndpointState>> owned;
    std::vector<picker::EndpointState*> eps;
    for (int i = 0; i < 3; ++i) {
        owned.push_back(picker_test::endpoint("10.0.0." + std::to_string(i + 1), 8000));
        eps.push_back(owned.back().get());
    }
    struct Row {
        std::string header;  // value of x-session-token; "" = absent
        std::vector<double> want;
    };
    const Row rows[] = {
        {"", {0, 0, 0}},
        {eps[1]->token(), {0, 1, 0}},
        {eps[2]->token(), {0, 0, 1}},
        {"bm90LWFuLWVuZHBvaW50", {0, 0, 0}},  // base64 of something else
        {"%%%not base64", {0, 0, 0}},
    };
    for (const Row& row : rows) {
        CAPTURE(row.header);
        Headers h;
        if (!row.header.empty()) h.h["x-session-token"] = row.header;
        picker::SchedulingRequest req;
        req.headers = &h;
        std::vector<double> out(3, -1);
        s.score(req, eps, out);
        CHECK(out == row.want);
    }
    // Without any headers at all.
    std::vector<double> out(3, -1);
    s.score(picker::SchedulingRequest{}, eps, out);
    CHECK(out == std::vector<double>{0, 0, 0});
}

TEST_CASE("session-affinity-scorer: the header name is trimmed and lower-cased, as the reference") {
    auto r = build(R"(        - type: session-affinity-scorer
          parameters:
            strategy: encoded_endpoint_header
            encodedEndpointHeaderConfig:
              header: " X-My-Session "
)");
    for (const auto& e : errors(r)) FAIL_CHECK(e);
    REQUIRE(r.scheduler);
    CHECK(picker::session_headers(*r.scheduler)[0] == "x-my-session");
}

TEST_CASE("session-affinity-scorer: rejections name the parameter and its line:col") {
    struct Row {
        std::string yaml;
        std::string want;
    };
    const Row rows[] = {
        {"        - type: session-affinity-scorer\n          parameters:\n            strategy: sticky\n",
         "infergate.yaml:20:23: plugin 'session-affinity-scorer': strategy must be 'encoded_endpoint_header' or "
         "'session_id', got 'sticky'"},
        {"        - type: session-affinity-scorer\n          parameters:\n            strategy: session_id\n",
         "infergate.yaml:20:23: plugin 'session-affinity-scorer': strategy 'session_id' of session-affinity-scorer "
         "is not supported yet (use 'encoded_endpoint_header')"},
        {"        - type: session-affinity-scorer\n          parameters:\n            encodedEndpointHeaderConfig:\n"
         "              heder: x\n",
         "infergate.yaml:21:15: unknown parameter 'encodedEndpointHeaderConfig.heder' for plugin "
         "'session-affinity-scorer' (type 'session-affinity-scorer') (did you mean 'header'?)"},
        {"        - type: session-affinity-scorer\n          parameters:\n            encodedEndpointHeaderConfig: 3\n",
         "infergate.yaml:20:42: parameter 'encodedEndpointHeaderConfig' of plugin 'session-affinity-scorer' must "
         "be a map"},
        {"        - type: session-affinity-scorer\n          parameters:\n            profileName: prefill\n",
         "infergate.yaml:20:26: plugin 'session-affinity-scorer': profileName is for multi-profile (P/D) setups, "
         "which are not supported yet"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.yaml);
        auto r = build(row.yaml);
        CHECK_FALSE(r.scheduler);
        const auto got = errors(r);
        CHECK(got.size() == 1);
        for (const auto& e : got) CHECK(e == row.want);
    }
}

TEST_CASE("scheduler: records each scorer's score per endpoint for /debug/endpoints") {
    auto r = build(R"(        - type: session-affinity-scorer
        - type: queue-scorer
)");
    REQUIRE(r.scheduler);
    CHECK(picker::scorer_names(*r.scheduler) == std::vector<std::string>{"session-affinity-scorer", "queue-scorer"});
    auto a = picker_test::endpoint("10.0.0.1", 8000);
    auto b = picker_test::endpoint("10.0.0.2", 8000);
    a->publish(picker::EngineMetrics{0, 0, 0}, picker::Clock::now());
    b->publish(picker::EngineMetrics{4, 0, 0}, picker::Clock::now());
    Headers h;
    h.h["x-session-token"] = b->token();
    picker::SchedulingRequest req;
    req.headers = &h;
    picker::PickScratch scratch;
    scratch.candidates = {a.get(), b.get()};
    picker::EndpointState* got = r.scheduler->run(req, scratch);
    REQUIRE(got);
    // a: session 0 + queue 1; b: session 1 + queue 0 -> a tie, either wins.
    CHECK(a->last_scores[0].load() == 0.0);
    CHECK(a->last_scores[1].load() == 1.0);
    CHECK(b->last_scores[0].load() == 1.0);
    CHECK(b->last_scores[1].load() == 0.0);
    CHECK(a->last_score.load() == 1.0);
}
