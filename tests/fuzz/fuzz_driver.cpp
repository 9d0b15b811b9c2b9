// A libFuzzer-compatible driver for g++ builds: runs every file named on
// the command line, then a fixed number of deterministic mutations of the
// target's seed corpus (byte flips, insertions of random bytes or
// dictionary tokens, deletions, truncations, duplications, splices).
//
//   fuzz_x [--runs=N] [--seed=S] [--max-seconds=T] [FILE...]
//
// Defaults: 20000 runs, seed 1, 2.5 s. The time bound only cuts a slow
// (sanitized) run short; the inputs tried are the same prefix of one
// deterministic sequence. A failed invariant or a sanitizer report prints
// the input that caused it (escaped) to stderr.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_driver.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

namespace infergate::fuzz {

static const std::string* g_current = nullptr;

static void print_current() {
    if (g_current) {
        std::fprintf(stderr, "input (%zu bytes):\n", g_current->size());
        for (unsigned char c : *g_current) {
            if (c >= 0x20 && c < 0x7f && c != '\\') std::fputc(c, stderr);
            else std::fprintf(stderr, "\\x%02x", c);
        }
        std::fputc('\n', stderr);
    }
}

void invariant_failed(const char* what, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", file, line, what);
    print_current();
    std::abort();
}

namespace {

using Rng = std::mt19937_64;

size_t pick(Rng& rng, size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); }

std::string mutate(std::string s, Rng& rng, const std::vector<std::string>& seeds,
                   const std::vector<std::string>& dict) {
    int rounds = 1 + static_cast<int>(pick(rng, 4));
    for (int i = 0; i < rounds; ++i) {
        size_t at = pick(rng, s.size() + 1);
        switch (pick(rng, 8)) {
            case 0:  // flip bits
                if (!s.empty()) s[pick(rng, s.size())] ^= static_cast<char>(1u << pick(rng, 8));
                break;
            case 1:  // replace a byte
                if (!s.empty()) s[pick(rng, s.size())] = static_cast<char>(rng());
                break;
            case 2:  // insert random bytes
                s.insert(at, std::string(1 + pick(rng, 4), static_cast<char>(rng())));
                break;
            case 3:  // insert a token
                if (!dict.empty()) s.insert(at, dict[pick(rng, dict.size())]);
                break;
            case 4:  // delete a range
                if (!s.empty()) s.erase(pick(rng, s.size()), 1 + pick(rng, 8));
                break;
            case 5:  // truncate
                s.resize(pick(rng, s.size() + 1));
                break;
            case 6: {  // duplicate a range (long runs hit limits)
                if (s.empty()) break;
                size_t from = pick(rng, s.size());
                std::string part = s.substr(from, 1 + pick(rng, 16));
                size_t times = 1 + pick(rng, 64);
                std::string rep;
                for (size_t k = 0; k < times; ++k) rep += part;
                s.insert(at, rep);
                break;
            }
            default: {  // splice another seed
                const std::string& o = seeds[pick(rng, seeds.size())];
                size_t from = pick(rng, o.size() + 1);
                s = s.substr(0, at) + o.substr(from);
                break;
            }
        }
    }
    return s;
}

void run_one(const std::string& input) {
    g_current = &input;
    // Exactly sized heap copy so ASan catches reads past the end.
    std::vector<uint8_t> buf(input.begin(), input.end());
    LLVMFuzzerTestOneInput(buf.empty() ? nullptr : buf.data(), buf.size());
    g_current = nullptr;
}

bool starts_with(const char* arg, const char* prefix, const char** rest) {
    size_t n = std::strlen(prefix);
    if (std::strncmp(arg, prefix, n) != 0) return false;
    *rest = arg + n;
    return true;
}

}  // namespace
}  // namespace infergate::fuzz

int main(int argc, char** argv) {
    using namespace infergate::fuzz;
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_set_death_callback(&print_current);
#endif
    unsigned long long runs = 20000, seed = 1;
    double max_seconds = 2.5;
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        const char* v = nullptr;
        if (starts_with(argv[i], "--runs=", &v)) runs = std::strtoull(v, nullptr, 10);
        else if (starts_with(argv[i], "--seed=", &v)) seed = std::strtoull(v, nullptr, 10);
        else if (starts_with(argv[i], "--max-seconds=", &v)) max_seconds = std::strtod(v, nullptr);
        else files.emplace_back(argv[i]);
    }
    for (const std::string& f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "cannot read %s\n", f.c_str());
            return 2;
        }
        std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        run_one(data);
    }
    const std::vector<std::string> seeds = seed_corpus();
    const std::vector<std::string> dict = dictionary();
    for (const std::string& s : seeds) run_one(s);

    Rng rng(seed);
    auto start = std::chrono::steady_clock::now();
    unsigned long long done = 0;
    for (; done < runs; ++done) {
        if ((done & 255) == 0 &&
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > max_seconds)
            break;
        run_one(mutate(seeds[pick(rng, seeds.size())], rng, seeds, dict));
    }
    std::printf("%zu files, %zu seeds, %llu of %llu mutations (seed %llu): ok\n", files.size(),
                seeds.size(), done, runs, seed);
    return 0;
}
