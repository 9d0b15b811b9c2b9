// Responses infergate writes itself: parse them back with our own codec
// and a JSON parser.
#include <doctest/doctest.h>

#include <simdjson.h>

#include <string>

#include "proxy/http_codec.hpp"
#include "proxy/responses.hpp"

using namespace infergate::proxy;

TEST_CASE("error responses are well-formed HTTP with an OpenAI error body") {
    struct Case {
        int status;
        const char* reason;
        const char* type;
    };
    const Case cases[] = {
        {400, "Bad Request", "invalid_request_error"},
        {404, "Not Found", "not_found_error"},
        {408, "Request Timeout", "timeout_error"},
        {413, "Content Too Large", "invalid_request_error"},
        {414, "URI Too Long", "invalid_request_error"},
        {429, "Too Many Requests", "rate_limit_error"},
        {431, "Request Header Fields Too Large", "invalid_request_error"},
        {500, "Internal Server Error", "server_error"},
        {501, "Not Implemented", "not_implemented_error"},
        {502, "Bad Gateway", "upstream_error"},
        {503, "Service Unavailable", "service_unavailable_error"},
        {504, "Gateway Timeout", "upstream_timeout_error"},
        {505, "HTTP Version Not Supported", "server_error"},
    };
    const std::string message = "bad \"thing\"\n\\ \x01 caf\xc3\xa9";
    for (const Case& c : cases) {
        for (bool keep_alive : {true, false}) {
            CAPTURE(c.status);
            CAPTURE(keep_alive);
            std::string r = error_response(c.status, message, keep_alive, "Retry-After: 1\r\n");
            std::string line = "HTTP/1.1 " + std::to_string(c.status) + " " + c.reason + "\r\n";
            CHECK(r.substr(0, line.size()) == line);
            CHECK(reason_phrase(c.status) == c.reason);

            HttpParser p(HttpParser::Kind::response, HttpParser::BodyMode::collect, {});
            CHECK(p.feed(r) == r.size());
            REQUIRE(p.message_complete());
            const MessageHead& h = p.head();
            CHECK(h.status == c.status);
            CHECK(h.keep_alive == keep_alive);
            CHECK(h.count("connection") == (keep_alive ? 0u : 1u));
            CHECK(h.find("content-type") == "application/json");
            CHECK(h.find("retry-after") == "1");
            REQUIRE(h.content_length);
            CHECK(*h.content_length == p.body().size());
            CHECK(p.body() == error_body(c.status, message));

            simdjson::dom::parser json;
            simdjson::dom::element doc;
            REQUIRE(json.parse(p.body()).get(doc) == simdjson::SUCCESS);
            std::string_view msg, type;
            int64_t code = 0;
            CHECK(doc["error"]["message"].get(msg) == simdjson::SUCCESS);
            CHECK(doc["error"]["type"].get(type) == simdjson::SUCCESS);
            CHECK(doc["error"]["code"].get(code) == simdjson::SUCCESS);
            CHECK(msg == message);
            CHECK(type == c.type);
            CHECK(code == c.status);
        }
    }
}

TEST_CASE("json_response frames any body") {
    for (std::string body : {std::string(), std::string("{}"), std::string(70000, 'x')}) {
        std::string r = json_response(200, body, true);
        HttpParser p(HttpParser::Kind::response, HttpParser::BodyMode::collect, {});
        CHECK(p.feed(r) == r.size());
        REQUIRE(p.message_complete());
        CHECK(p.head().status == 200);
        CHECK(p.head().content_length == body.size());
        CHECK(p.body() == body);
    }
    CHECK(reason_phrase(299) == "Unknown");
}
