// HttpParser on requests: well-formed messages, keep-alive, pipelining and
// feeds split at every byte boundary.
#include <doctest/doctest.h>

#include "tests/unit/proxy/codec_util.hpp"

using namespace infergate::proxy;
using namespace infergate::proxy::test;

namespace {

const std::string kGet =
    "GET /v1/models?x=1 HTTP/1.1\r\nHost: gw\r\nAccept: */*\r\nX-Long-Header-Name: some value\r\n\r\n";
const std::string kPost =
    "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
    "Content-Length: 15\r\n\r\n{\"model\":\"m-1\"}";
const std::string kChunked =
    "POST /v1/completions HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";

}  // namespace

TEST_CASE("simple GET") {
    Outcome o = request(kGet);
    CHECK(o.error == 0);
    CHECK(o.complete);
    CHECK(o.consumed == kGet.size());
    CHECK(o.method == HTTP_GET);
    CHECK(o.url == "/v1/models?x=1");
    CHECK(o.major == 1);
    CHECK(o.minor == 1);
    CHECK(o.keep_alive);
    CHECK_FALSE(o.chunked);
    CHECK_FALSE(o.content_length);
    CHECK(o.body.empty());
    using F = std::pair<std::string, std::string>;
    CHECK(o.fields == std::vector<F>{{"Host", "gw"}, {"Accept", "*/*"},
                                      {"X-Long-Header-Name", "some value"}});
}

TEST_CASE("POST with Content-Length body") {
    Outcome o = request(kPost);
    CHECK(o.error == 0);
    CHECK(o.complete);
    CHECK(o.consumed == kPost.size());
    CHECK(o.method == HTTP_POST);
    CHECK(o.content_length == 15u);
    CHECK(o.body == R"({"model":"m-1"})");
}

TEST_CASE("chunked body") {
    Outcome o = request(kChunked);
    CHECK(o.error == 0);
    CHECK(o.complete);
    CHECK(o.consumed == kChunked.size());
    CHECK(o.chunked);
    CHECK_FALSE(o.content_length);
    CHECK(o.body == "hello world");
}

TEST_CASE("chunked body with extensions and trailers") {
    std::string m = "POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n";
    Outcome o = request(m);
    CHECK(o.error == 0);
    CHECK(o.complete);
    CHECK(o.consumed == m.size());
    CHECK(o.body == "abc");
}

TEST_CASE("keep-alive semantics") {
    struct Case {
        const char* version;
        const char* connection;  // extra header line or ""
        bool keep_alive;
    };
    const Case cases[] = {
        {"HTTP/1.1", "", true},
        {"HTTP/1.1", "Connection: close\r\n", false},
        {"HTTP/1.1", "Connection: Close\r\n", false},
        {"HTTP/1.1", "Connection: keep-alive\r\n", true},
        {"HTTP/1.0", "", false},
        {"HTTP/1.0", "Connection: keep-alive\r\n", true},
        {"HTTP/1.0", "Connection: Keep-Alive\r\n", true},
        {"HTTP/1.0", "Connection: close\r\n", false},
    };
    for (const Case& c : cases) {
        std::string m = std::string("GET / ") + c.version + "\r\nHost: gw\r\n" + c.connection + "\r\n";
        CAPTURE(m);
        Outcome o = request(m);
        CHECK(o.error == 0);
        CHECK(o.complete);
        CHECK(o.keep_alive == c.keep_alive);
    }
}

TEST_CASE("pipelined messages are parsed one at a time, in order") {
    const std::string all = kGet + kPost + kChunked + kGet;
    const std::vector<std::pair<std::string, std::string>> expected = {
        {"/v1/models?x=1", ""},
        {"/v1/chat/completions", R"({"model":"m-1"})"},
        {"/v1/completions", "hello world"},
        {"/v1/models?x=1", ""}};
    const size_t sizes[] = {kGet.size(), kPost.size(), kChunked.size(), kGet.size()};

    SUBCASE("one buffer") {
        HttpParser p(Kind::request, Mode::collect, {});
        std::string_view rest = all;
        for (size_t i = 0; i < expected.size(); ++i) {
            CAPTURE(i);
            size_t used = p.feed(rest);
            CHECK(used == sizes[i]);
            REQUIRE(p.message_complete());
            CHECK_FALSE(p.failed());
            CHECK(p.head().url() == expected[i].first);
            CHECK(p.body() == expected[i].second);
            // Complete: nothing more is consumed until next_message().
            CHECK(p.feed(rest.substr(used)) == 0);
            rest.remove_prefix(used);
            p.next_message();
            CHECK_FALSE(p.started());
            CHECK_FALSE(p.head_complete());
        }
        CHECK(rest.empty());
    }
    SUBCASE("one byte at a time") {
        HttpParser p(Kind::request, Mode::collect, {});
        size_t done = 0, from = 0;
        for (size_t i = 0; i < all.size(); ++i) {
            std::vector<char> b{all[i]};
            REQUIRE(p.feed({b.data(), 1}) == 1);
            REQUIRE_FALSE(p.failed());
            if (p.message_complete()) {
                CHECK(i + 1 - from == sizes[done]);
                CHECK(p.head().url() == expected[done].first);
                CHECK(p.body() == expected[done].second);
                ++done;
                from = i + 1;
                p.next_message();
            }
        }
        CHECK(done == expected.size());
    }
}

TEST_CASE("a feed split at any byte boundary gives the same result") {
    const std::string messages[] = {
        kGet,
        kPost,
        kChunked,
        "GET / HTTP/1.0\r\n\r\n",
        "PUT /x HTTP/1.1\r\nhost:gw\r\nX-Ws:  \t v a l  \t\r\nContent-Length: 0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n"
        "a;x=y\r\n0123456789\r\n0\r\nT: 1\r\n\r\n",
    };
    for (const std::string& m : messages) {
        CAPTURE(m);
        const Outcome whole = request(m);
        REQUIRE(whole.error == 0);
        REQUIRE(whole.complete);
        CHECK(request(m, every_byte(m.size())) == whole);
        for (size_t cut = 1; cut < m.size(); ++cut) {
            CAPTURE(cut);
            CHECK(request(m, {cut}) == whole);
        }
    }
}

TEST_CASE("header lookup is ASCII case-insensitive") {
    HttpParser p(Kind::request, Mode::collect, {});
    std::string m = "GET / HTTP/1.1\r\nhOsT: gw\r\nContent-TYPE: a/b\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n";
    REQUIRE(p.feed(m) == m.size());
    REQUIRE(p.message_complete());
    const MessageHead& h = p.head();
    CHECK(h.find("host") == "gw");
    CHECK(h.find("HOST") == "gw");
    CHECK(h.find("content-type") == "a/b");
    CHECK(h.find("X-DUP") == "1");  // the first of repeated fields
    CHECK(h.count("x-dup") == 2);
    CHECK(h.count("Host") == 1);
    CHECK_FALSE(h.find("x-du"));
    CHECK_FALSE(h.find("x-dupe"));
    CHECK(h.count("missing") == 0);
    CHECK(iequals("Content-Type", "cONTENT-tYPE"));
    CHECK_FALSE(iequals("a", "b"));
    CHECK_FALSE(iequals("[", "{"));  // 0x5b/0x7b differ by 32 but are not letters
}

TEST_CASE("optional whitespace around values is not part of the value") {
    // Empty values: see the BUG test in http_limits_test.cpp.
    std::string m = "GET / HTTP/1.1\r\nHost:gw\r\nA:  v1 \t \r\nB:\tin  side\t\r\n\r\n";
    for (auto cuts : {std::vector<size_t>{}, every_byte(m.size())}) {
        HttpParser p(Kind::request, Mode::collect, {});
        Outcome o = run_cuts(p, m, cuts);
        REQUIRE(o.complete);
        CHECK(p.head().find("host") == "gw");
        CHECK(p.head().find("a") == "v1");
        CHECK(p.head().find("b") == "in  side");
    }
}

TEST_CASE("started() turns true with the first byte") {
    HttpParser p(Kind::request, Mode::collect, {});
    CHECK_FALSE(p.started());
    CHECK(p.feed("G") == 1);
    CHECK(p.started());
    CHECK_FALSE(p.head_complete());
    CHECK(p.feed("ET / HTTP/1.1\r\nHost: gw\r\n\r\n") == 27);
    CHECK(p.message_complete());
    p.next_message();
    CHECK_FALSE(p.started());
}

TEST_CASE("finish() on a connection closed mid-request fails with 400") {
    HttpParser p(Kind::request, Mode::collect, {});
    p.feed("POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\nab");
    REQUIRE_FALSE(p.failed());
    p.finish();
    CHECK(p.error_status() == 400);

    HttpParser idle(Kind::request, Mode::collect, {});
    idle.finish();  // nothing started: a clean close
    CHECK_FALSE(idle.failed());
}
