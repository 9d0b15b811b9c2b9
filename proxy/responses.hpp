// Responses infergate writes itself: OpenAI-style JSON errors
// {"error": {"message", "type", "code"}} and small JSON answers.
#pragma once

#include <string>
#include <string_view>

namespace infergate::proxy {

std::string_view reason_phrase(int status);

// A complete HTTP/1.1 response. `extra_headers` are full lines ending in
// CRLF (e.g. "Retry-After: 1\r\n").
std::string json_response(int status, std::string_view body, bool keep_alive,
                          std::string_view extra_headers = {});

// The OpenAI error body for `status` with `message`.
std::string error_body(int status, std::string_view message);

std::string error_response(int status, std::string_view message, bool keep_alive,
                           std::string_view extra_headers = {});

}  // namespace infergate::proxy
