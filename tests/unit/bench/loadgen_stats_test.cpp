// The load generator's arithmetic: percentiles, CSV lines and the JSON
// summary computed from per-request records.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include <simdjson.h>

#include "bench/loadgen/stats.hpp"

using namespace infergate::loadgen;

TEST_CASE("percentile: linear interpolation between closest ranks") {
    const struct {
        std::vector<double> v;
        double p, want;
    } cases[] = {
        {{5}, 50, 5},           {{5}, 99, 5},          {{1, 2}, 50, 1.5},      {{1, 2, 3, 4}, 50, 2.5},
        {{1, 2, 3, 4}, 0, 1},   {{1, 2, 3, 4}, 100, 4}, {{1, 2, 3, 4}, 90, 3.7}, {{0, 10}, 99, 9.9},
        {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 90, 10},
    };
    for (const auto& c : cases) {
        CAPTURE(c.p);
        CHECK(percentile(c.v, c.p) == doctest::Approx(c.want));
    }
    CHECK(std::isnan(percentile({}, 50)));
}

namespace {

Record rec(uint64_t id, uint32_t cls, uint32_t stage, int status, double ttft, double itl, double e2e,
           uint32_t out, int32_t replica, double end_s, std::string error = {}) {
    Record r;
    r.id = id;
    r.cls = cls;
    r.stage = stage;
    r.scheduled_s = double(id) * 0.5;
    r.lag_ms = double(id);
    r.status = status;
    r.ttft_ms = ttft;
    r.itl_ms = itl;
    r.e2e_ms = e2e;
    r.output_tokens = out;
    r.prompt_tokens = 10;
    r.replica = replica;
    r.end_s = end_s;
    r.error = std::move(error);
    return r;
}

RunInfo info() {
    RunInfo i;
    i.classes = {"a", "b"};
    i.replicas = {"r0", "r,1"};
    i.stages = {{2, 0, 10}, {4, 10, 20}};
    i.mode = "open";
    i.nominal_end_s = 20;
    i.wall_seconds = 25;
    i.cpu_seconds = 0.5;
    i.involuntary_switches = 3;
    i.time_scale = 10;
    return i;
}

}  // namespace

TEST_CASE("csv: one line per record, NaN empty, unsafe characters replaced") {
    const RunInfo i = info();
    CHECK(csv_header().starts_with("id,class,stage,scheduled_s,lag_ms,status,ttft_ms,e2e_ms,itl_mean_ms,"));
    CHECK(csv_line(rec(3, 1, 0, 200, 12.5, kNaN, 100, 8, 1, 3), i) ==
          "3,b,0,1.500000,3.000,200,12.500,100.000,,8,10,r 1,\n");
    CHECK(csv_line(rec(4, 0, 1, 0, kNaN, kNaN, 7, 0, -1, 3, "read: reset, by \"peer\"\n"), i) ==
          "4,a,1,2.000000,4.000,0,,7.000,,0,10,,read: reset  by  peer  \n");
}

TEST_CASE("summary: per class, per stage and overall") {
    const RunInfo i = info();
    std::vector<Record> rs = {
        rec(0, 0, 0, 200, 10, 1, 100, 10, 0, 5),
        rec(1, 0, 0, 200, 20, 2, 200, 20, 1, 8),
        rec(2, 1, 1, 200, 30, 3, 300, 30, 0, 22),  // ends after the schedule: stage 1 wall 12 s
        rec(3, 1, 1, 429, kNaN, kNaN, 5, 0, 1, 12),
        rec(4, 0, 1, 0, kNaN, kNaN, 9, 0, -1, 13, "timeout"),
    };
    const std::string text = summary_json(rs, i);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE_MESSAGE(!parser.parse(text).get(doc), text);
    CHECK(double(doc["time_scale"]) == 10);
    CHECK(double(doc["wall_seconds"]) == 25);
    CHECK(double(doc["cpu_seconds"]) == 0.5);
    CHECK(int64_t(doc["involuntary_context_switches"]) == 3);
    CHECK(double(doc["lag_ms"]["max"]) == 4);
    CHECK(double(doc["lag_ms"]["p99"]) == doctest::Approx(3.96));
    CHECK(std::string_view(doc["mode"]) == "open");

    auto all = doc["overall"];
    CHECK(uint64_t(all["count"]) == 5);
    CHECK(uint64_t(all["ok"]) == 3);
    CHECK(uint64_t(all["errors"]) == 1);
    CHECK(double(all["success_rate"]) == doctest::Approx(0.6));
    CHECK(uint64_t(all["statuses"]["200"]) == 3);
    CHECK(uint64_t(all["statuses"]["429"]) == 1);
    CHECK(uint64_t(all["statuses"]["0"]) == 1);
    CHECK(uint64_t(all["error_kinds"]["timeout"]) == 1);
    CHECK(double(all["ttft_ms"]["p50"]) == 20);  // ok requests only
    CHECK(double(all["ttft_ms"]["p90"]) == doctest::Approx(28));
    CHECK(double(all["ttft_ms"]["mean"]) == 20);
    CHECK(double(all["itl_ms"]["p99"]) == doctest::Approx(2.98));
    CHECK(double(all["e2e_ms"]["p50"]) == 200);
    CHECK(uint64_t(all["output_tokens"]) == 60);
    CHECK(double(all["wall_seconds"]) == 22);  // last completion after the schedule's end
    CHECK(double(all["output_tokens_per_s"]) == doctest::Approx(60.0 / 22));
    CHECK(double(all["requests_per_s"]) == doctest::Approx(3.0 / 22));
    CHECK(uint64_t(all["replicas"]["r0"]) == 2);
    CHECK(uint64_t(all["replicas"]["r,1"]) == 2);

    auto a = doc["classes"]["a"];
    CHECK(uint64_t(a["count"]) == 3);
    CHECK(uint64_t(a["ok"]) == 2);
    CHECK(double(a["wall_seconds"]) == 20);  // the schedule's end
    auto b = doc["classes"]["b"];
    CHECK(uint64_t(b["count"]) == 2);
    CHECK(double(b["success_rate"]) == 0.5);

    simdjson::dom::array stages;
    REQUIRE(!doc["stages"].get(stages));
    REQUIRE(stages.size() == 2);
    auto s0 = stages.at(0);
    CHECK(double(s0["qps"]) == 2);
    CHECK(uint64_t(s0["summary"]["count"]) == 2);
    CHECK(double(s0["summary"]["wall_seconds"]) == 10);
    CHECK(double(s0["summary"]["output_tokens_per_s"]) == 3);
    auto s1 = stages.at(1);
    CHECK(uint64_t(s1["summary"]["count"]) == 3);
    CHECK(double(s1["summary"]["wall_seconds"]) == 12);
    CHECK(double(s1["summary"]["output_tokens_per_s"]) == doctest::Approx(30.0 / 12));

    const std::string line = summary_line(rs, i);
    CHECK(line.find("5 requests, 3 ok") != std::string::npos);
}

TEST_CASE("summary: empty run and a group without ok requests give nulls, not NaN") {
    RunInfo i = info();
    const std::string text = summary_json({rec(0, 0, 0, 404, kNaN, kNaN, 3, 0, 0, 1)}, i);
    CHECK(text.find("nan") == std::string::npos);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(!parser.parse(text).get(doc));
    CHECK(doc["overall"]["ttft_ms"]["p50"].is_null());
    CHECK(uint64_t(doc["overall"]["ok"]) == 0);
    const std::string empty = summary_json({}, i);
    REQUIRE(!parser.parse(empty).get(doc));
    CHECK(uint64_t(doc["overall"]["count"]) == 0);
}
