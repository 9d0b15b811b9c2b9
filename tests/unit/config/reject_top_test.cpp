// Rejections: top-level keys, listeners, admin, access_log,
// trusted_proxies, limits, timeouts.
#include <doctest/doctest.h>

#include "helpers.hpp"

using namespace cfgtest;

TEST_CASE("empty and non-map documents") {
    auto e = expect_error("", "the config is empty");
    CHECK(e.to_string() == "t.yaml:1:1: the config is empty");
    expect_error("- a\n- b\n", "the config must be a map, got a list");
}

TEST_CASE("unknown top-level key, with a suggestion and the exact position") {
    auto e = expect_error(listener + "wrokers: 2\n", "unknown key 'wrokers' at the top level; did you mean 'workers'?");
    CHECK(e.mark.line == 4);
    CHECK(e.mark.col == 1);
    auto far = expect_error(listener + "frobnicate: 1\n", "unknown key 'frobnicate' at the top level");
    CHECK(far.message.find("did you mean") == std::string::npos);
}

TEST_CASE("duplicate top-level key") {
    auto e = expect_error(listener + "workers: 1\nworkers: 2\n", "duplicate key 'workers'");
    CHECK(e.to_string() == "t.yaml:5:1: duplicate key 'workers' (first at line 4, column 1)");
}

TEST_CASE("all errors are collected, not just the first") {
    auto r = load(listener + "workers: x\nlimits:\n  max_headers: 0\ntimeouts:\n  drain: 5\nbogus: 1\n");
    CHECK_FALSE(r.ok());
    CHECK(r.errors.size() == 4);
}

TEST_CASE("workers") {
    auto e = expect_error(listener + "workers: 1025\n", "workers must be an integer from 0 to 1024, got 1025");
    CHECK(e.to_string() == "t.yaml:4:10: workers must be an integer from 0 to 1024, got 1025");
    expect_error(listener + "workers: -1\n", "(negative numbers are not allowed)");
    expect_error(listener + "workers: four\n", "workers must be an integer from 0 to 1024, got 'four'");
    expect_error(listener + "workers: \"4\"\n", "(remove the quotes)");
    expect_error(listener + "workers: 1.5\n", "workers must be an integer");
    expect_error(listener + "workers: [1]\n", "got a list");
    expect_error(listener + "workers:\n", "got nothing (null)");
}

TEST_CASE("listeners") {
    expect_error("workers: 1\n", "missing required key 'listeners'");
    expect_error("listeners: []\n", "listeners must hold at least one listener");
    expect_error("listeners: main\n", "listeners must be a list, got 'main'");
    expect_error("listeners:\n  - main\n", "listeners[0] must be a map, got 'main'");
    expect_error("listeners:\n  - address: 127.0.0.1:1\n", "missing required key 'name' in listeners[0]");
    expect_error("listeners:\n  - name: a\n", "missing required key 'address' in listeners[0]");
    expect_error("listeners:\n  - name: a b\n    address: 127.0.0.1:1\n",
                 "listeners[0].name 'a b' may only hold letters, digits, '-', '_' and '.'");
    expect_error("listeners:\n  - name: a\n    address: 127.0.0.1:1\n    adress: x\n",
                 "unknown key 'adress' in listeners[0]; did you mean 'address'?");
    auto dup = expect_error("listeners:\n  - name: a\n    address: 127.0.0.1:1\n  - name: a\n    address: 127.0.0.1:2\n",
                            "duplicate listener name 'a'");
    CHECK(dup.to_string() == "t.yaml:4:11: listeners[1].name: duplicate listener name 'a' (first at line 2, column 11)");
    auto bad = expect_error("listeners:\n  - name: a\n    address: localhost\n", "has no port");
    CHECK(bad.to_string() ==
          "t.yaml:3:14: listeners[0].address: address 'localhost' has no port; write host:port, e.g. 127.0.0.1:8080");
    expect_error("listeners:\n  - name: a\n    address: ::1:80\n", "IPv6 addresses need brackets");
    expect_error("listeners:\n  - name: a\n    address: 127.0.0.1:70000\n", "port '70000' must be a number from 0 to 65535");
    expect_ok("listeners:\n  - name: a\n    address: \"[::1]:0\"\n");
}

TEST_CASE("admin") {
    expect_error(listener + "admin: 127.0.0.1:9901\n", "admin must be a map, got '127.0.0.1:9901'");
    expect_error(listener + "admin: {}\n", "missing required key 'address' in admin");
    expect_error(listener + "admin:\n  address: 1.2.3:4\n", "admin.address: address '1.2.3:4': '1.2.3' is not a valid IPv4");
    expect_error(listener + "admin:\n  address: 127.0.0.1:1\n  port: 3\n", "unknown key 'port' in admin");
}

TEST_CASE("access_log") {
    expect_error(listener + "access_log: stdout\n", "access_log must be a map");
    expect_error(listener + "access_log:\n  path: \"\"\n", "access_log.path must not be empty");
    expect_error(listener + "access_log:\n  path: [a]\n", "access_log.path must be a string, got a list");
    expect_error(listener + "access_log:\n  paht: off\n", "unknown key 'paht' in access_log; did you mean 'path'?");
}

TEST_CASE("trusted_proxies") {
    expect_error(listener + "trusted_proxies: 10.0.0.0/8\n", "trusted_proxies must be a list");
    auto e = expect_error(listener + "trusted_proxies: [10.0.0.0/8, 10.1.2.3/16]\n",
                          "trusted_proxies[1]: CIDR '10.1.2.3/16' has host bits set; did you mean '10.1.0.0/16'?");
    CHECK(e.mark.line == 4);
    CHECK(e.mark.col == 31);
    expect_error(listener + "trusted_proxies: [10.0.0.0/40]\n", "prefix length must be at most 32");
    expect_error(listener + "trusted_proxies: [nope]\n", "is not an IPv4 or IPv6 address");
    expect_error(listener + "trusted_proxies: [{a: b}]\n", "trusted_proxies[0] must be a string, got a map");
}

TEST_CASE("limits: every key rejects 0, text, negative and unknown keys") {
    for (const char* key : {"max_header_bytes", "max_headers", "max_uri_bytes", "max_body_bytes",
                            "max_connections_per_worker", "max_upstream_requests"}) {
        CAPTURE(key);
        std::string k = key;
        expect_error(listener + "limits:\n  " + k + ": 0\n", "limits." + k + " must be an integer from 1 to ");
        expect_error(listener + "limits:\n  " + k + ": lots\n", "got 'lots'");
        expect_error(listener + "limits:\n  " + k + ": -5\n", "negative numbers are not allowed");
    }
    expect_error(listener + "limits:\n  max_headers: 4294967296\n", "from 1 to 4294967295, got 4294967296");
    expect_error(listener + "limits:\n  max_header: 10\n", "unknown key 'max_header' in limits; did you mean 'max_headers'?");
    expect_error(listener + "limits: 5\n", "limits must be a map");
}

TEST_CASE("timeouts: every key needs a unit and a positive value") {
    for (const char* key : {"header_read", "body_read", "keepalive_idle", "upstream_connect",
                            "upstream_response_header", "stream_idle", "upstream_keepalive_idle", "drain"}) {
        CAPTURE(key);
        std::string k = key;
        auto e = expect_error(listener + "timeouts:\n  " + k + ": 10\n",
                              "timeouts." + k + ": duration '10' needs a unit: ms, s, m or h (e.g. '10ms' or '10s')");
        CHECK(e.mark.line == 5);
        CHECK(e.mark.col == static_cast<int>(k.size()) + 5);
        expect_error(listener + "timeouts:\n  " + k + ": 10d\n", "unknown unit 'd'");
        expect_error(listener + "timeouts:\n  " + k + ": {}\n", "must be a duration such as '4s', got a map");
        if (k != "drain") expect_error(listener + "timeouts:\n  " + k + ": 0s\n", "must be at least 1ms");
    }
    expect_ok(listener + "timeouts:\n  drain: 0s\n");
    expect_error(listener + "timeouts:\n  idle: 5s\n", "unknown key 'idle' in timeouts");
}
