// Scalar parsers: durations, addresses, CIDRs, suggestions.
#include <doctest/doctest.h>

#include "config/values.hpp"

using namespace infergate::config;

TEST_CASE("durations need a unit") {
    std::string why;
    CHECK(parse_duration("50ms", why) == Duration{50});
    CHECK(parse_duration("4s", why) == Duration{4000});
    CHECK(parse_duration("1m", why) == Duration{60000});
    CHECK(parse_duration("0s", why) == Duration{0});
    CHECK_FALSE(parse_duration("50", why));
    CHECK(why == "duration '50' needs a unit: ms, s, m or h (e.g. '50ms' or '50s')");
    CHECK(parse_duration("2h", why) == Duration{7200000});
    CHECK_FALSE(parse_duration("5d", why));
    CHECK(why.find("unknown unit 'd'") != std::string::npos);
    CHECK_FALSE(parse_duration("1.5s", why));
    CHECK_FALSE(parse_duration("-1s", why));
    CHECK(why.find("negative") != std::string::npos);
    CHECK_FALSE(parse_duration("s", why));
    CHECK_FALSE(parse_duration("", why));
    CHECK_FALSE(parse_duration(" 5s", why));
    CHECK(parse_duration("1440m", why) == Duration{86400000});
    CHECK_FALSE(parse_duration("1441m", why));
    CHECK_FALSE(parse_duration("99999999999999999999ms", why));
}

TEST_CASE("addresses") {
    std::string why;
    auto a = parse_address("127.0.0.1:8080", false, why);
    REQUIRE(a);
    CHECK(a->host == "127.0.0.1");
    CHECK(a->port == 8080);
    CHECK(a->to_string() == "127.0.0.1:8080");

    auto v6 = parse_address("[0:0::1]:9", false, why);
    REQUIRE(v6);
    CHECK(v6->host == "::1");  // canonical
    CHECK(v6->to_string() == "[::1]:9");

    auto name = parse_address("vllm-0.models.svc:8000", false, why);
    REQUIRE(name);
    CHECK(name->host == "vllm-0.models.svc");

    CHECK(parse_address("0.0.0.0:0", true, why));
    CHECK_FALSE(parse_address("127.0.0.1:0", false, why));
    CHECK(why.find("port 0 is not allowed") != std::string::npos);
    CHECK_FALSE(parse_address("127.0.0.1:65536", true, why));
    CHECK_FALSE(parse_address("127.0.0.1:-1", true, why));
    CHECK_FALSE(parse_address("127.0.0.1", true, why));
    CHECK(why.find("has no port") != std::string::npos);
    CHECK_FALSE(parse_address("::1:8080", true, why));
    CHECK(why.find("need brackets") != std::string::npos);
    CHECK_FALSE(parse_address("[::1]8080", true, why));
    CHECK_FALSE(parse_address("[zz::1]:80", true, why));
    CHECK_FALSE(parse_address("256.0.0.1:80", true, why));
    CHECK(why.find("not a valid IPv4") != std::string::npos);
    CHECK_FALSE(parse_address(":80", true, why));
    CHECK_FALSE(parse_address("bad_host:80", true, why));
    CHECK_FALSE(parse_address("a host:80", true, why));
    CHECK_FALSE(parse_address("host:", true, why));
}

TEST_CASE("CIDRs") {
    std::string why;
    auto c = parse_cidr("10.0.0.0/8", why);
    REQUIRE(c);
    CHECK_FALSE(c->v6);
    CHECK(c->prefix_len == 8);
    CHECK(c->bytes[0] == 10);
    auto h = parse_cidr("::1", why);
    REQUIRE(h);
    CHECK(h->v6);
    CHECK(h->prefix_len == 128);
    CHECK(h->bytes[15] == 1);
    CHECK(parse_cidr("0.0.0.0/0", why));
    CHECK_FALSE(parse_cidr("10.0.0.1/8", why));
    CHECK(why == "CIDR '10.0.0.1/8' has host bits set; did you mean '10.0.0.0/8'?");
    CHECK_FALSE(parse_cidr("10.0.0.0/33", why));
    CHECK_FALSE(parse_cidr("::/129", why));
    CHECK_FALSE(parse_cidr("10.0.0.0/", why));
    CHECK_FALSE(parse_cidr("10.0.0.0/x", why));
    CHECK_FALSE(parse_cidr("example.com/32", why));
}

TEST_CASE("suggestions") {
    std::vector<std::string> keys{"name", "endpoints", "engine", "metrics_path"};
    CHECK(nearest("endpionts", keys) == "endpoints");
    CHECK(nearest("enigne", keys) == "engine");
    CHECK(nearest("zzz", keys) == "");
    CHECK(nearest("nam", keys) == "name");
    CHECK(edit_distance("kitten", "sitting") == 3);
}
