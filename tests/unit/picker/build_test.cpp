// build_scheduler: acceptance, and every rejection with its file:line:col.
#include <doctest/doctest.h>

#include <algorithm>

#include "helpers.hpp"
#include "picker/builtin_plugins.hpp"
#include "picker/registry.hpp"
#include "picker/scheduler_impl.hpp"

using namespace picker_test;
using namespace infergate::picker;

namespace {

// The one error a config must produce.
void check_error(const cfg::SchedulerConfig& c, int line, int col, const std::string& message) {
    const BuildResult r = build_scheduler(c);
    CHECK(r.scheduler == nullptr);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message == message);
    CHECK(r.errors[0].mark.file == "epp.yaml");
    CHECK(r.errors[0].mark.line == line);
    CHECK(r.errors[0].mark.col == col);
}

std::shared_ptr<const Scheduler> accept(const cfg::SchedulerConfig& c) {
    BuildResult r = build_scheduler(c);
    for (const auto& e : r.errors) FAIL_CHECK(e.mark.line << ":" << e.mark.col << ": " << e.message);
    REQUIRE(r.scheduler);
    return r.scheduler;
}

}  // namespace

TEST_CASE("build: registered types, and the reference's other types") {
    CHECK(registered_plugin_types() ==
          std::vector<std::string>{"active-request-scorer", "approx-prefix-cache-producer",
                                   "burst-aware-prefix-producer", "by-label",
                                   "by-label-selector", "decode-filter", "encode-filter",
                                   "kv-cache-utilization-scorer", "label-selector-filter", "load-aware-scorer",
                                   "lora-affinity-scorer", "max-score-picker", "no-hit-lru-scorer", "prefill-filter",
                                   "prefix-cache-scorer", "queue-scorer", "random-picker",
                                   "running-requests-size-scorer", "session-affinity-scorer", "single-profile-handler",
                                   "utilization-detector", "utilization-filter", "weighted-random-picker"});
    const auto others = reference_only_plugin_types();
    CHECK(std::is_sorted(others.begin(), others.end()));
    for (const auto& t : implemented_plugin_types()) CHECK(!std::binary_search(others.begin(), others.end(), t.type));
    for (const char* t : {"burst-prefix-cache-producer", "token-producer", "pd-profile-handler",
                          "latency-scorer", "precise-prefix-cache-scorer"})
        CHECK(std::binary_search(others.begin(), others.end(), std::string_view(t)));
}

TEST_CASE("build: no scheduler section -> the reference's default") {
    const auto s = accept(cfg::SchedulerConfig{});
    CHECK(s->profile() == "default");
    REQUIRE(s->scorers().size() == 3);
    CHECK(s->scorers()[0].scorer->type() == "queue-scorer");
    CHECK(s->scorers()[0].weight == 2.0);
    CHECK(s->scorers()[1].scorer->type() == "kv-cache-utilization-scorer");
    CHECK(s->scorers()[1].weight == 2.0);
    CHECK(s->scorers()[2].scorer->type() == "prefix-cache-scorer");
    CHECK(s->scorers()[2].weight == 3.0);
    REQUIRE(s->producers().size() == 1);
    CHECK(s->producers()[0]->type() == "approx-prefix-cache-producer");
    CHECK(s->picker().type() == "max-score-picker");
    CHECK(s->filters().empty());
}

TEST_CASE("build: a full config") {
    const auto c = scheduler_config(
        {plugin("queue-scorer", 3), plugin("kv-cache-utilization-scorer", 4, "kv"),
         plugin("active-request-scorer", 5, "",
                map({{"idleThreshold", scalar("2", 7, 22)}, {"maxBusyScore", scalar("0.5", 8, 21)},
                     {"requestTimeout", scalar("2m", 9, 23)}},
                    7, 7)),
         plugin("random-picker", 10, "", map({{"maxNumOfEndpoints", scalar("2", 12, 26)}}, 12, 7)),
         plugin("single-profile-handler", 13)},
        {profile("default", 15,
                 {ref("queue-scorer", 17, 2.0), ref("kv", 18), ref("active-request-scorer", 19, 0.5),
                  ref("random-picker", 20)})});
    const auto s = accept(c);
    CHECK(s->profile() == "default");
    REQUIRE(s->scorers().size() == 3);
    CHECK(s->scorers()[0].weight == 2.0);
    CHECK(s->scorers()[1].scorer->name() == "kv");
    CHECK(s->scorers()[1].weight == 1.0);  // no weight -> 1
    const auto* ar = dynamic_cast<const ActiveRequest*>(s->scorers()[2].scorer);
    REQUIRE(ar);
    CHECK(ar->idle_threshold() == 2);
    CHECK(ar->max_busy_score() == 0.5);
    CHECK(s->picker().type() == "random-picker");
    CHECK(dynamic_cast<const RandomPicker&>(s->picker()).max_num_of_endpoints() == 2);
}

TEST_CASE("build: a profile without a picker gets one, as the reference does") {
    // No picker anywhere: a max-score-picker is added.
    auto s = accept(scheduler_config({plugin("queue-scorer", 3)}, {profile("p", 5, {ref("queue-scorer", 6)})}));
    CHECK(s->picker().type() == "max-score-picker");
    // A picker configured but not referenced is reused.
    s = accept(scheduler_config({plugin("queue-scorer", 3), plugin("random-picker", 4)},
                                {profile("p", 5, {ref("queue-scorer", 6)})}));
    CHECK(s->picker().type() == "random-picker");
}

TEST_CASE("build: no profile -> one 'default' profile with every filter, scorer and picker") {
    const auto s = accept(scheduler_config(
        {plugin("queue-scorer", 3), plugin("max-score-picker", 4), plugin("single-profile-handler", 5)}, {}));
    CHECK(s->profile() == "default");
    REQUIRE(s->scorers().size() == 1);
    CHECK(s->scorers()[0].weight == 1.0);
    CHECK(s->picker().type() == "max-score-picker");
}

TEST_CASE("build: rejections, each at its line:col") {
    SUBCASE("unknown type, with a suggestion") {
        check_error(scheduler_config({plugin("queue-scorr", 3)}, {}), 3, 9,
                    "unknown plugin type 'queue-scorr' (did you mean 'queue-scorer'?)");
    }
    SUBCASE("unknown type, nothing close") {
        check_error(scheduler_config({plugin("teleporter", 3)}, {}), 3, 9, "unknown plugin type 'teleporter'");
    }
    SUBCASE("a typo of a type that is not implemented suggests it all the same") {
        check_error(scheduler_config({plugin("prefix-cache-scorr", 3)}, {}), 3, 9,
                    "unknown plugin type 'prefix-cache-scorr' (did you mean 'prefix-cache-scorer'?)");
    }
    SUBCASE("known to the reference, not implemented") {
        check_error(scheduler_config({plugin("latency-scorer", 4)}, {}), 4, 9,
                    "plugin type 'latency-scorer' is not supported yet");
        check_error(scheduler_config({plugin("pd-profile-handler", 6)}, {}), 6, 9,
                    "plugin type 'pd-profile-handler' is not supported yet");
    }
    SUBCASE("missing type") {
        check_error(scheduler_config({plugin("", 3, "x")}, {}), 3, 3, "plugin 'x' is missing a type");
    }
    SUBCASE("duplicate plugin name") {
        check_error(scheduler_config({plugin("queue-scorer", 3), plugin("queue-scorer", 4)}, {}), 4, 3,
                    "duplicate plugin name 'queue-scorer'");
    }
    SUBCASE("unknown parameter, with a suggestion") {
        check_error(scheduler_config({plugin("active-request-scorer", 3, "",
                                             map({{"idleTreshold", scalar("1", 5, 21)}}, 5, 7))},
                                     {}),
                    5, 7,
                    "unknown parameter 'idleTreshold' for plugin 'active-request-scorer' (type "
                    "'active-request-scorer') (did you mean 'idleThreshold'?)");
    }
    SUBCASE("a parameter for a plugin that takes none") {
        check_error(scheduler_config({plugin("queue-scorer", 3, "q", map({{"depth", scalar("1", 5, 14)}}, 5, 7))},
                                     {}),
                    5, 7, "unknown parameter 'depth' for plugin 'q' (type 'queue-scorer'); it takes no parameters");
    }
    SUBCASE("parameters not a map") {
        check_error(scheduler_config({plugin("max-score-picker", 3, "", scalar("fast", 4, 17))}, {}), 4, 17,
                    "parameters of plugin 'max-score-picker' must be a map");
    }
    SUBCASE("wrong type: not an integer") {
        check_error(scheduler_config({plugin("active-request-scorer", 3, "",
                                             map({{"idleThreshold", scalar("1.5", 5, 22)}}, 5, 7))},
                                     {}),
                    5, 22, "parameter 'idleThreshold' of plugin 'active-request-scorer' must be an integer");
    }
    SUBCASE("wrong type: a quoted number is a string") {
        check_error(scheduler_config({plugin("max-score-picker", 3, "",
                                             map({{"maxNumOfEndpoints", scalar("2", 5, 26, true)}}, 5, 7))},
                                     {}),
                    5, 26, "parameter 'maxNumOfEndpoints' of plugin 'max-score-picker' must be an integer");
    }
    SUBCASE("wrong type: a map where a number goes") {
        check_error(scheduler_config({plugin("active-request-scorer", 3, "",
                                             map({{"maxBusyScore", map({}, 6, 9)}}, 5, 7))},
                                     {}),
                    6, 9, "parameter 'maxBusyScore' of plugin 'active-request-scorer' must be a number");
    }
    SUBCASE("out of range") {
        check_error(scheduler_config({plugin("active-request-scorer", 3, "",
                                             map({{"maxBusyScore", scalar("1.5", 5, 21)}}, 5, 7))},
                                     {}),
                    5, 21, "parameter 'maxBusyScore' of plugin 'active-request-scorer' must be between 0 and 1, got 1.5");
        check_error(scheduler_config({plugin("active-request-scorer", 3, "",
                                             map({{"idleThreshold", scalar("-1", 5, 22)}}, 5, 7))},
                                     {}),
                    5, 22,
                    "parameter 'idleThreshold' of plugin 'active-request-scorer' must be between 0 and "
                    "9223372036854775807, got -1");
        check_error(scheduler_config({plugin("random-picker", 3, "",
                                             map({{"maxNumOfEndpoints", scalar("0", 5, 26)}}, 5, 7))},
                                     {}),
                    5, 26, "parameter 'maxNumOfEndpoints' of plugin 'random-picker' must be between 1 and 2147483647, got 0");
    }
    SUBCASE("pluginRef to a missing plugin") {
        check_error(scheduler_config({plugin("queue-scorer", 3)},
                                     {profile("default", 5, {ref("queue-scorer", 6), ref("kv-cache", 7)})}),
                    7, 5, "scheduling profile 'default' references undefined plugin 'kv-cache'");
        check_error(scheduler_config({plugin("queue-scorer", 3)}, {profile("default", 5, {ref("queue-scorr", 6)})}),
                    6, 5,
                    "scheduling profile 'default' references undefined plugin 'queue-scorr' (did you mean "
                    "'queue-scorer'?)");
    }
    SUBCASE("pluginRef missing") {
        check_error(scheduler_config({plugin("queue-scorer", 3)}, {profile("default", 5, {ref("", 6)})}), 6, 5,
                    "schedulingProfiles[default].plugins[0] is missing a 'pluginRef'");
    }
    SUBCASE("more than one profile") {
        check_error(scheduler_config({plugin("queue-scorer", 3)},
                                     {profile("a", 5, {ref("queue-scorer", 6)}),
                                      profile("b", 7, {ref("queue-scorer", 8)})}),
                    7, 3, "scheduling profile 'b': more than one scheduling profile is not supported yet");
    }
    SUBCASE("a weight on a non-scorer") {
        check_error(scheduler_config({plugin("max-score-picker", 3)},
                                     {profile("default", 5, {ref("max-score-picker", 6, 2.0)})}),
                    6, 5,
                    "plugin 'max-score-picker' in scheduling profile 'default' is a picker: only scorers take a "
                    "weight");
    }
    SUBCASE("a negative weight") {
        check_error(scheduler_config({plugin("queue-scorer", 3)},
                                     {profile("default", 5, {ref("queue-scorer", 6, -1.0)})}),
                    6, 5,
                    "weight of scorer 'queue-scorer' in scheduling profile 'default' must be a finite number >= 0, "
                    "got -1");
    }
    SUBCASE("two pickers in one profile") {
        check_error(scheduler_config({plugin("max-score-picker", 3), plugin("random-picker", 4)},
                                     {profile("default", 5, {ref("max-score-picker", 6), ref("random-picker", 7)})}),
                    7, 5,
                    "scheduling profile 'default' has more than one picker ('max-score-picker' and 'random-picker')");
    }
    SUBCASE("two profile handlers") {
        check_error(scheduler_config({plugin("single-profile-handler", 3),
                                      plugin("single-profile-handler", 4, "other")},
                                     {}),
                    4, 3, "multiple profile handlers ('single-profile-handler', 'other'); only one is allowed");
    }
    SUBCASE("a profile handler inside a profile") {
        check_error(scheduler_config({plugin("single-profile-handler", 3)},
                                     {profile("default", 5, {ref("single-profile-handler", 6)})}),
                    6, 5,
                    "plugin 'single-profile-handler' is a profile handler: list it under plugins, not in "
                    "scheduling profile 'default'");
    }
}

TEST_CASE("build: every problem is reported, not only the first") {
    const auto r = build_scheduler(scheduler_config(
        {plugin("queue-scorr", 3), plugin("latency-scorer", 4),
         plugin("active-request-scorer", 5, "", map({{"maxBusyScore", scalar("2", 7, 21)}}, 7, 7))},
        {profile("default", 9, {ref("missing", 10)})}));
    CHECK(r.scheduler == nullptr);
    REQUIRE(r.errors.size() == 4);
    CHECK(r.errors[0].mark.line == 3);
    CHECK(r.errors[1].mark.line == 4);
    CHECK(r.errors[2].mark.line == 7);
    CHECK(r.errors[3].mark.line == 10);
}
