// infergate-loadgen's command line: the schedule, mix, route and target
// parsers, and the combinations parse_args refuses.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "bench/loadgen/options.hpp"

using namespace infergate::loadgen;

namespace {

ParseOutcome parse(std::vector<const char*> args, Options& out, std::string& msg) {
    args.insert(args.begin(), "infergate-loadgen");
    return parse_args(int(args.size()), args.data(), out, msg);
}

}  // namespace

TEST_CASE("schedule: stages in order") {
    std::vector<Stage> s;
    std::string err;
    REQUIRE(parse_schedule("3:60,4:60,5.5:0.5", s, err));
    REQUIRE(s.size() == 3);
    CHECK(s[0].qps == 3);
    CHECK(s[0].seconds == 60);
    CHECK(s[2].qps == 5.5);
    CHECK(s[2].seconds == 0.5);
    REQUIRE(parse_schedule("0:10", s, err));  // a pause is a stage
    CHECK(s[0].qps == 0);
}

TEST_CASE("schedule: malformed stages are refused") {
    const char* bad[] = {"", "3", "3:", ":60", "3:0", "-1:60", "3:-5", "3:60,", ",3:60", "a:60", "3:60x",
                         "3:60;4:60", "3:nan", "inf:3"};
    for (const char* text : bad) {
        CAPTURE(text);
        std::vector<Stage> s;
        std::string err;
        CHECK_FALSE(parse_schedule(text, s, err));
        CHECK_FALSE(err.empty());
    }
}

TEST_CASE("mix: names and weights") {
    std::vector<ClassWeight> m;
    std::string err;
    REQUIRE(parse_mix("critical=1,sheddable=3.5", m, err));
    REQUIRE(m.size() == 2);
    CHECK(m[0].name == "critical");
    CHECK(m[1].weight == 3.5);
    for (const char* text : {"a", "a=", "=1", "a=0", "a=-1", "a=1,a=2", "a b=1", "a=1,"}) {
        CAPTURE(text);
        CHECK_FALSE(parse_mix(text, m, err));
    }
}

TEST_CASE("route: round-robin and window parameters") {
    Route r;
    std::string err;
    REQUIRE(parse_route("round-robin", r, err));
    CHECK(r.mode == RouteMode::round_robin);
    REQUIRE(parse_route("window:50", r, err));
    CHECK(r.mode == RouteMode::window);
    CHECK(r.window_ms == 50);
    CHECK(r.min_colocate_blocks == 0);
    CHECK(r.max_per_replica == -1);
    REQUIRE(parse_route("window:100:4:2", r, err));
    CHECK(r.min_colocate_blocks == 4);
    CHECK(r.max_per_replica == 2);
    for (const char* text : {"window", "window:0", "window:10001", "window:10:-1", "window:10:1:0",
                             "window:10:1:-2", "window:10:1:2:3", "windows:10", "random"}) {
        CAPTURE(text);
        CHECK_FALSE(parse_route(text, r, err));
    }
}

TEST_CASE("target URLs") {
    Target t;
    std::string err;
    REQUIRE(parse_target("http://127.0.0.1:8000", t, err));
    CHECK(t.host == "127.0.0.1");
    CHECK(t.port == "8000");
    CHECK(t.path == "/v1/completions");
    REQUIRE(parse_target("http://gw.local/", t, err));
    CHECK(t.port == "80");
    CHECK(t.path == "/v1/completions");
    REQUIRE(parse_target("http://[::1]:9/v2/x", t, err));
    CHECK(t.host == "::1");
    CHECK(t.port == "9");
    CHECK(t.path == "/v2/x");
    for (const char* url : {"https://a:1", "a:1", "http://", "http://a:0", "http://a:70000", "http://:80",
                            "http://[::1", "http://[::1]x", "http://a:1/x y"}) {
        CAPTURE(url);
        CHECK_FALSE(parse_target(url, t, err));
    }
}

TEST_CASE("parse_args: a complete open-loop command") {
    Options o;
    std::string msg;
    REQUIRE(parse({"--target", "http://127.0.0.1:1", "--target", "http://127.0.0.1:2", "--schedule", "2:5",
                   "--workload", "random", "--prompt-tokens", "55000", "--mix", "a=1,b=2", "--class-header",
                   "x-gateway-inference-objective", "--header", "x-a: b", "--time-scale", "10", "--timeout", "3"},
                  o, msg) == ParseOutcome::run);
    CHECK(o.targets.size() == 2);
    CHECK(o.workload == Workload::random);
    CHECK(o.prompt_tokens == 55000);
    CHECK(o.mix.size() == 2);
    CHECK(o.headers.at(0) == "x-a: b");
    CHECK(o.time_scale == 10);
    CHECK(o.drain == 3);  // defaults to --timeout
}

TEST_CASE("parse_args: refused combinations and values") {
    const std::vector<std::vector<const char*>> bad = {
        {"--schedule", "1:1"},                                              // no target
        {"--target", "http://a:1"},                                         // no load
        {"--target", "http://a:1", "--schedule", "1:1", "--concurrency", "2", "--requests", "3"},
        {"--target", "http://a:1", "--concurrency", "2"},                   // no --requests
        {"--target", "http://a:1", "--schedule", "1:1", "--requests", "3"},
        {"--target", "http://a:1", "--schedule", "1:1", "--route", "window:10"},  // one target
        {"--target", "http://a:1", "--workload", "burst"},                  // no --burst
        {"--target", "http://a:1", "--workload", "burst", "--burst", "3", "--schedule", "1:1"},
        {"--target", "http://a:1", "--schedule", "1:1", "--header", "no-colon"},
        {"--target", "http://a:1", "--schedule", "1:1", "--header", ": v"},
        {"--target", "http://a:1", "--schedule", "1:1", "--workload", "other"},
        {"--target", "http://a:1", "--schedule", "1:1", "--time-scale", "0"},
        {"--target", "http://a:1", "--schedule", "1:1", "--output-tokens", "0"},
        {"--target", "http://a:1", "--schedule", "1:1", "--model", "a\"b"},
        {"--target", "http://a:1", "--schedule", "1:1", "--system-tokens", "0", "--question-tokens", "0"},
        {"--target", "http://a:1", "--schedule", "1:1", "--bogus", "1"},
        {"--target", "http://a:1", "--schedule"},
    };
    for (const auto& args : bad) {
        Options o;
        std::string msg;
        CAPTURE(args.size());
        CHECK(parse(args, o, msg) == ParseOutcome::error);
        CHECK_FALSE(msg.empty());
    }
}

TEST_CASE("parse_args: burst alone and help") {
    Options o;
    std::string msg;
    REQUIRE(parse({"--target", "http://a:1", "--workload", "burst", "--burst", "8", "--burst-window-ms", "5"}, o,
                  msg) == ParseOutcome::run);
    CHECK(o.burst == 8);
    Options h;
    CHECK(parse({"--help"}, h, msg) == ParseOutcome::help);
    CHECK(msg.find("--schedule") != std::string::npos);
}
