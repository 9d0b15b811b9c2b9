// What a fuzz target provides besides LLVMFuzzerTestOneInput, for the
// stand-alone driver (fuzz_driver.cpp) used where libFuzzer is not
// available (g++). Under clang -fsanitize=fuzzer the driver is left out and
// these functions are simply unused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace infergate::fuzz {

// Valid inputs the driver mutates.
std::vector<std::string> seed_corpus();
// Tokens the driver splices in (format keywords, delimiters).
std::vector<std::string> dictionary();

// A failed invariant: print and abort, so the driver (and libFuzzer) report
// the input.
[[noreturn]] void invariant_failed(const char* what, const char* file, int line);

}  // namespace infergate::fuzz

#define FUZZ_CHECK(cond) \
    ((cond) ? (void)0 : ::infergate::fuzz::invariant_failed(#cond, __FILE__, __LINE__))
