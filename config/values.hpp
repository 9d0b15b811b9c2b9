// Parsers for the scalar value types of the config: durations, addresses,
// CIDRs, unsigned integers, plus the "did you mean" helper.
// Internal to config/. Each parser returns nullopt and sets `why` (a
// sentence fragment naming the bad text) on failure; none throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace infergate::config {

// "50ms", "4s", "1m": decimal integer and a unit; at most 24 hours.
std::optional<Duration> parse_duration(std::string_view text, std::string& why);

// "host:port", "[v6]:port". IP literals are stored in canonical form
// (inet_ntop), names as written. Port 0 only when `allow_port_zero`.
std::optional<Address> parse_address(std::string_view text, bool allow_port_zero, std::string& why);

// "10.0.0.0/8", "::1/128"; a bare address means a single host. Host bits
// beyond the prefix are an error (they usually hide a typo).
std::optional<Cidr> parse_cidr(std::string_view text, std::string& why);

// Decimal digits only (no sign, no spaces, no 0x, no exponent).
std::optional<uint64_t> parse_uint(std::string_view text);

// Edit distance counting a swap of adjacent letters as one edit.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely
// typo (distance <= 2, and less than half the word); "" otherwise.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace infergate::config
