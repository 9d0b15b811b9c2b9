#include "proxy/responses.hpp"

#include <fmt/format.h>

#include "proxy/openai_body.hpp"

namespace infergate::proxy {

std::string_view reason_phrase(int status) {
    switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

static std::string_view error_type(int status) {
    switch (status) {
        case 404: return "not_found_error";
        case 408: return "timeout_error";
        case 429: return "rate_limit_error";
        case 501: return "not_implemented_error";
        case 502: return "upstream_error";
        case 503: return "service_unavailable_error";
        case 504: return "upstream_timeout_error";
        default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

std::string error_body(int status, std::string_view message) {
    return fmt::format(R"({{"error":{{"message":{},"type":"{}","code":{}}}}})",
                       json_quote(message), error_type(status), status);
}

std::string json_response(int status, std::string_view body, bool keep_alive,
                          std::string_view extra_headers) {
    return fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}{}\r\n{}",
        status, reason_phrase(status), body.size(),
        keep_alive ? "" : "Connection: close\r\n", extra_headers, body);
}

std::string error_response(int status, std::string_view message, bool keep_alive,
                           std::string_view extra_headers) {
    return json_response(status, error_body(status, message), keep_alive, extra_headers);
}

}  // namespace infergate::proxy
