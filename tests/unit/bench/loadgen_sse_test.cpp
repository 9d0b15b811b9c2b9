// Server-sent events and whole streamed responses, split at every byte
// position (chunked transfer, Content-Length, close-delimited), as the
// load generator reads them from the socket.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "bench/loadgen/response.hpp"
#include "bench/loadgen/sse.hpp"

using namespace infergate::loadgen;

namespace {

std::string event(std::string_view text) {
    return "data: {\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"" +
           std::string(text) + "\",\"finish_reason\":null}]}\n\n";
}

const std::string kUsage =
    "data: {\"id\":\"cmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"total_tokens\":17,"
    "\"completion_tokens\":5}}\n\n";

// Four events: "the" (1 token), " of and" (2), "" (none), " cache to" (2).
std::string stream_body() {
    return event("the") + event(" of and") + ": comment\n\n" + event("") + event(" cache to") + kUsage +
           "data: [DONE]\n\n";
}

std::string chunked(const std::string& body, size_t piece) {
    std::string out;
    for (size_t i = 0; i < body.size(); i += piece) {
        const std::string part = body.substr(i, piece);
        char size[16];
        std::snprintf(size, sizeof size, "%zx", part.size());
        out += std::string(size) + "\r\n" + part + "\r\n";
    }
    return out + "0\r\n\r\n";
}

}  // namespace

TEST_CASE("sse: events whole whatever the split") {
    const std::string body = "data: a\n\ndata: b\r\ndata:c\r\n\r\nevent: x\nid: 3\n\n: c\n\ndata: [DONE]\n\n";
    const std::vector<std::string> want{"a", "b\nc", "[DONE]"};
    for (size_t split = 0; split <= body.size(); ++split) {
        for (size_t split2 = split; split2 <= body.size(); split2 += 7) {
            CAPTURE(split);
            SseParser p;
            std::vector<std::string> got;
            auto on = [&](std::string_view d) { got.emplace_back(d); };
            CHECK(p.feed(std::string_view(body).substr(0, split), on));
            CHECK(p.feed(std::string_view(body).substr(split, split2 - split), on));
            CHECK(p.feed(std::string_view(body).substr(split2), on));
            CHECK(got == want);
        }
    }
}

TEST_CASE("sse: an oversized event is refused") {
    SseParser p;
    std::string big = "data: " + std::string(SseParser::kMaxEvent + 1, 'a');
    CHECK_FALSE(p.feed(big, [](std::string_view) {}));
    SseParser q;
    CHECK_FALSE(q.feed(std::string(SseParser::kMaxEvent + 1, 'a'), [](std::string_view) {}));  // no newline
    SseParser r;  // an ignored field's line too, whole or not
    CHECK_FALSE(r.feed(": " + std::string(SseParser::kMaxEvent, 'a') + "\n", [](std::string_view) {}));
    SseParser ok;
    CHECK(ok.feed(": " + std::string(SseParser::kMaxEvent - 2, 'a') + "\n", [](std::string_view) {}));
}

TEST_CASE("event reader: text tokens, usage, [DONE], chat deltas, junk") {
    EventReader r;
    EventInfo e = r.read(R"({"choices":[{"index":0,"text":" a b c"}]})");
    CHECK(e.kind == EventInfo::Kind::json);
    CHECK(e.text_tokens == 3);
    CHECK_FALSE(e.has_usage);
    e = r.read(R"({"choices":[{"index":0,"delta":{"content":"x y"}}]})");
    CHECK(e.text_tokens == 2);
    e = r.read(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})");
    CHECK(e.text_tokens == 0);
    e = r.read(R"({"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":9}})");
    CHECK(e.has_usage);
    CHECK(e.prompt_tokens == 7);
    CHECK(e.completion_tokens == 9);
    e = r.read(R"({"choices":[{"text":"z"}],"usage":null})");
    CHECK(e.text_tokens == 1);
    CHECK_FALSE(e.has_usage);
    CHECK(r.read("[DONE]").kind == EventInfo::Kind::done);
    CHECK(r.read("{not json").kind == EventInfo::Kind::bad);
    CHECK(r.read("").kind == EventInfo::Kind::bad);
    CHECK(count_text_tokens("") == 0);
    CHECK(count_text_tokens(" ") == 1);
    CHECK(count_text_tokens("\n\n") == 1);
    CHECK(count_text_tokens("the") == 1);
    CHECK(count_text_tokens(" the  of\tand") == 3);
}

TEST_CASE("streamed response: chunked, split at every position, timed per event") {
    const std::string body = stream_body();
    const std::string msg =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nX-Sim-Replica: sim-a\r\n"
        "transfer-encoding: chunked\r\n\r\n" +
        chunked(body, 37);
    EventReader events;
    for (size_t split = 0; split <= msg.size(); ++split) {
        CAPTURE(split);
        StreamResponse r(events);
        auto st = r.feed(std::string_view(msg).substr(0, split), 1.0);
        if (split < msg.size()) {
            REQUIRE(st == StreamResponse::State::more);
            st = r.feed(std::string_view(msg).substr(split), 2.0);
        }
        REQUIRE(st == StreamResponse::State::complete);
        CHECK(r.status() == 200);
        CHECK(r.replica() == "sim-a");
        CHECK(r.keep_alive());
        CHECK_FALSE(r.leftover());
        CHECK(r.saw_done());
        CHECK(r.text_tokens() == 5);
        CHECK(r.tokens_after_first() == 4);
        CHECK(r.has_usage());
        CHECK(r.usage_completion_tokens() == 5);
        CHECK(r.usage_prompt_tokens() == 12);
        CHECK(r.end_time() == (split < msg.size() ? 2.0 : 1.0));
        // The first text event's time is the time of the bytes completing it.
        if (split >= msg.find("of and")) CHECK(r.first_token_time() == 1.0);
        if (split <= msg.find("\"the\"")) CHECK(r.first_token_time() == 2.0);
    }
}

TEST_CASE("streamed response: inter-token timing over events") {
    EventReader events;
    StreamResponse r(events);
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
    CHECK(r.feed(head, 0.0) == StreamResponse::State::more);
    CHECK(r.feed(event("a"), 1.0) == StreamResponse::State::more);         // first token at 1
    CHECK(r.feed(event(" b c"), 1.5) == StreamResponse::State::more);      // 2 tokens
    CHECK(r.feed(event(" d e f g"), 3.5) == StreamResponse::State::more);  // 4 tokens
    CHECK(r.first_token_time() == 1.0);
    CHECK(r.last_token_time() == 3.5);
    CHECK(r.tokens_after_first() == 6);
    CHECK_FALSE(r.has_usage());
    CHECK(r.text_tokens() == 7);
}

TEST_CASE("streamed response: other framings and statuses") {
    EventReader events;
    SUBCASE("Content-Length body, then bytes of another message: leftover") {
        const std::string body = event("hi") + "data: [DONE]\n\n";
        const std::string msg = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        StreamResponse r(events);
        CHECK(r.feed(msg + "HTTP/1.1 200", 1) == StreamResponse::State::complete);
        CHECK(r.leftover());
        CHECK(r.saw_done());
    }
    SUBCASE("close-delimited (HTTP/1.0) ends at EOF, not reusable") {
        StreamResponse r(events);
        CHECK(r.feed("HTTP/1.0 200 OK\r\n\r\n" + event("x"), 1) == StreamResponse::State::more);
        CHECK(r.eof(2) == StreamResponse::State::complete);
        CHECK_FALSE(r.keep_alive());
        CHECK(r.text_tokens() == 1);
    }
    SUBCASE("404 with a JSON body: status kept, body not read as events") {
        const std::string body = R"({"error":{"message":"The model `x` does not exist.","code":404}})";
        const std::string msg = "HTTP/1.1 404 Not Found\r\nx-gateway-destination-endpoint-served: 10.0.0.1:8000\r\n"
                                "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        StreamResponse r(events);
        CHECK(r.feed(msg, 1) == StreamResponse::State::complete);
        CHECK(r.status() == 404);
        CHECK(r.replica() == "10.0.0.1:8000");
        CHECK(r.keep_alive());
        CHECK(r.text_tokens() == 0);
    }
    SUBCASE("a 429 with chunked body") {
        StreamResponse r(events);
        CHECK(r.feed("HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked("slow down", 4), 1) ==
              StreamResponse::State::complete);
        CHECK(r.status() == 429);
    }
    SUBCASE("closed mid-body and before any byte") {
        StreamResponse r(events);
        CHECK(r.feed("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nabc", 1) == StreamResponse::State::more);
        CHECK(r.eof(2) == StreamResponse::State::failed);
        CHECK(r.error() == "connection closed mid-response");
        StreamResponse e(events);
        CHECK(e.eof(1) == StreamResponse::State::failed);
        CHECK_FALSE(e.got_bytes());
    }
    SUBCASE("garbage and oversized heads fail") {
        StreamResponse r(events);
        CHECK(r.feed("HTTQ/1.1 200 OK\r\n\r\n", 1) == StreamResponse::State::failed);
        CHECK_FALSE(r.error().empty());
        StreamResponse big(events);
        const std::string head = "HTTP/1.1 200 OK\r\nx-big: " + std::string(StreamResponse::kMaxHeaderBytes, 'a');
        CHECK(big.feed(head, 1) == StreamResponse::State::failed);
        CHECK(big.error() == "response header section too large");
    }
}
