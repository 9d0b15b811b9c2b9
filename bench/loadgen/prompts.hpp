// Prompt text for the workloads. Words from a fixed ASCII vocabulary
// joined by spaces (no JSON escaping needed), cut to an exact number of
// characters = tokens x chars_per_token, so the simulator's tokenizer
// (4 characters per token) counts exactly the tokens asked for.
//
// shared-prefix (llm-d-benchmark's shared_prefix workload): G groups, each
// one random system prefix of S tokens; G x P questions of Q tokens;
// prompt (g, p) = system[g] + question[g][p]. A burst is one more group
// with a fresh prefix (a random stream of its own, so it matches no
// group's prefix) and N questions. Everything is generated once up front:
// memory is (G x (S + P x Q) + N x Q) x chars_per_token bytes.
// random: a unique random prompt per request, generated when sent.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace infergate::loadgen {

// Appends exactly `chars` characters of random words to `out`.
void append_words(std::string& out, size_t chars, std::mt19937_64& rng);

// A prompt in two pieces sent back to back (prefix + suffix), so shared
// prefixes are stored once and never copied per request.
struct PromptParts {
    std::string_view prefix;
    std::string_view suffix;
    size_t size() const { return prefix.size() + suffix.size(); }
};

class SharedPrefixPrompts {
public:
    // groups x prompts_per_group prompts of (system + question) tokens.
    SharedPrefixPrompts(uint32_t groups, uint32_t prompts_per_group, uint32_t system_tokens,
                        uint32_t question_tokens, uint32_t chars_per_token, uint64_t seed);

    uint32_t groups() const { return groups_; }
    uint32_t prompts_per_group() const { return per_group_; }
    size_t count() const { return questions_.size(); }
    PromptParts prompt(uint32_t group, uint32_t index) const {
        return {systems_[group], questions_[size_t(group) * per_group_ + index]};
    }

private:
    uint32_t groups_, per_group_;
    std::vector<std::string> systems_;
    std::vector<std::string> questions_;
};

}  // namespace infergate::loadgen
