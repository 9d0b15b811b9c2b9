// HttpParser on responses from model servers (Kind::response,
// BodyMode::pieces): body framing, close-delimited bodies, HEAD, 1xx.
#include <doctest/doctest.h>

#include <string>

#include "tests/unit/proxy/codec_util.hpp"

using namespace infergate::proxy;
using namespace infergate::proxy::test;

namespace {

const std::string kCl = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world";
const std::string kChunked =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    "6\r\ndata: \r\n5\r\nhello\r\n0\r\n\r\n";
const std::string kClose = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\ndata: 2\n\n";

}  // namespace

TEST_CASE("Content-Length body arrives as pieces of the fed buffers") {
    HttpParser p(Kind::response, Mode::pieces, {});
    std::string got;
    for (size_t off = 0; off < kCl.size(); off += 3) {
        std::string buf = kCl.substr(off, 3);
        CHECK(p.feed(buf) == buf.size());
        for (std::string_view v : p.pieces()) {
            // Views into this feed, not copies.
            CHECK(v.data() >= buf.data());
            CHECK(v.data() + v.size() <= buf.data() + buf.size());
            got.append(v);
        }
    }
    CHECK(p.message_complete());
    CHECK_FALSE(p.failed());
    CHECK(p.head().status == 200);
    CHECK(p.head().content_length == 11u);
    CHECK(got == "hello world");
    CHECK(p.body().empty());  // pieces mode never collects
}

TEST_CASE("response bodies, whole and split at every byte boundary") {
    struct Case {
        std::string name;
        std::string message;
        bool close;  // the server closes after the message
        std::string body;
        bool keep_alive;
    };
    const Case cases[] = {
        {"content-length", kCl, false, "hello world", true},
        {"chunked", kChunked, false, "data: hello", true},
        {"close-delimited", kClose, true, "data: 1\n\ndata: 2\n\n", false},
        {"HTTP/1.0 close-delimited", "HTTP/1.0 200 OK\r\n\r\nabc", true, "abc", false},
        {"Connection: close with length", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
         false, "x", false},
        {"204", "HTTP/1.1 204 No Content\r\n\r\n", false, "", true},
        {"304", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", false, "", true},
        {"empty content-length", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, "", true},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        Outcome whole = response(c.message, {}, c.close);
        CHECK(whole.error == 0);
        CHECK(whole.complete);
        CHECK(whole.consumed == c.message.size());
        CHECK(whole.body == c.body);
        CHECK(whole.keep_alive == c.keep_alive);
        CHECK(response(c.message, every_byte(c.message.size()), c.close) == whole);
        for (size_t cut = 1; cut < c.message.size(); ++cut) {
            CAPTURE(cut);
            CHECK(response(c.message, {cut}, c.close) == whole);
        }
    }
}

TEST_CASE("a close-delimited body is complete only at finish()") {
    HttpParser p(Kind::response, Mode::pieces, {});
    CHECK(p.feed(kClose) == kClose.size());
    CHECK(p.head_complete());
    CHECK_FALSE(p.message_complete());
    p.finish();
    CHECK(p.message_complete());
    CHECK_FALSE(p.failed());
}

TEST_CASE("a connection closed before the end of the response fails with 502") {
    const std::string truncated[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        "HTTP/1.1 200 OK\r\nContent-Le",
        "HTTP/1.1 20",
    };
    for (const std::string& m : truncated) {
        CAPTURE(m);
        HttpParser p(Kind::response, Mode::pieces, {});
        CHECK(p.feed(m) == m.size());
        CHECK_FALSE(p.failed());
        p.finish();
        CHECK(p.failed());
        CHECK(p.error_status() == 502);
        CHECK_FALSE(p.message_complete());
    }
}

TEST_CASE("a response to HEAD has no body whatever its headers say") {
    const std::string heads[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\n\r\n",
    };
    for (const std::string& h : heads) {
        CAPTURE(h);
        HttpParser p(Kind::response, Mode::pieces, {});
        p.expect_no_body(true);
        std::string next = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        std::string both = h + next;
        CHECK(p.feed(both) == h.size());
        CHECK(p.message_complete());
        CHECK(p.pieces().empty());
        CHECK(p.head().status == 200);
        p.next_message();
        CHECK(p.feed(std::string_view(both).substr(h.size())) == next.size());
        CHECK(p.message_complete());
        CHECK(p.head().status == 404);
    }
}

TEST_CASE("1xx interim responses come before the final one") {
    const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
    const std::string hints = "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n";
    const std::string all = interim + hints + kCl;
    HttpParser p(Kind::response, Mode::pieces, {});
    std::string_view rest = all;

    size_t used = p.feed(rest);
    CHECK(used == interim.size());
    CHECK(p.message_complete());
    CHECK(p.head().status == 100);
    rest.remove_prefix(used);
    p.next_message();

    used = p.feed(rest);
    CHECK(used == hints.size());
    CHECK(p.message_complete());
    CHECK(p.head().status == 103);
    CHECK(p.head().find("link") == "</a>; rel=preload");
    rest.remove_prefix(used);
    p.next_message();

    used = p.feed(rest);
    CHECK(used == kCl.size());
    CHECK(p.message_complete());
    CHECK(p.head().status == 200);
    REQUIRE(p.pieces().size() == 1);
    CHECK(p.pieces()[0] == "hello world");
}

TEST_CASE("bad responses fail with 502") {
    const std::string bad[] = {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTX/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    };
    for (const std::string& m : bad) {
        CAPTURE(m);
        CHECK(response(m).error == 502);
        CHECK(response(m, every_byte(m.size())).error == 502);
    }
}

// BUG: RFC 9112 6.3 (rule 1): 1xx, 204 and 304 responses end at the header
// section whatever their Content-Length says (a 304 may carry the length
// of the representation it stands for, RFC 9110 8.6). llhttp leaves that
// to its user (node sets skip-body itself); HttpParser::on_headers_complete
// (proxy/http_codec.cpp:187-201) only skips the body for expect_no_body.
// Input: "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n" followed by
// the next response on the same connection. Expected: message_complete()
// after the head. Actual: waits for 9 body bytes and eats the next
// response's first 9 bytes as body (finish() gives 502).
TEST_CASE("204 and 304 have no body even with a Content-Length") {
    const std::string heads[] = {
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
    };
    for (const std::string& h : heads) {
        CAPTURE(h);
        std::string all = h + kCl;
        HttpParser p(Kind::response, Mode::pieces, {});
        CHECK(p.feed(all) == h.size());
        CHECK(p.message_complete());
        CHECK(p.pieces().empty());
    }
}
