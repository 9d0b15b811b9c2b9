// EndpointState: the live, lock-free view of one model-server endpoint.
#include "picker/endpoint.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include <xxhash.h>

namespace infergate::picker {

namespace {

// "host:port", or "[v6]:port" when the host is an IPv6 literal. Formatted
// here rather than with config::Address::to_string so that the picker does
// not depend on when config's implementation lands; both produce the same
// text.
std::string endpoint_id(const config::Address& a) {
    std::string out;
    const bool v6 = a.host.find(':') != std::string::npos;
    out.reserve(a.host.size() + 8);
    if (v6) out += '[';
    out += a.host;
    if (v6) out += ']';
    out += ':';
    out += std::to_string(a.port);
    return out;
}

std::string base64(std::string_view in) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
        for (int k = 3; k >= 0; --k) out += kAlphabet[(v >> (6 * k)) & 63];
    }
    if (i < in.size()) {
        uint32_t v = uint32_t(uint8_t(in[i])) << 16;
        if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::atomic<uint32_t> g_next_uid{1};

constexpr unsigned kTokenBits = 40;
constexpr uint64_t kTokenMask = (uint64_t{1} << kTokenBits) - 1;
constexpr uint32_t kSeqMask = (uint32_t{1} << 24) - 1;
constexpr unsigned kBucketBits = 24;  // pending_prefill_: tokens under the time
constexpr uint64_t kBucketMask = (uint64_t{1} << kBucketBits) - 1;

uint64_t clock_ms(Clock::time_point t) {
    const int64_t ns = to_ns(t);
    return ns > 0 ? uint64_t(ns / 1000000) & ((uint64_t{1} << (64 - kBucketBits)) - 1) : 0;
}

// The bucket `word` as of `now_ms`: its tokens less what drained since its
// time (nothing when `now_ms` is older).
uint64_t drained(uint64_t word, uint64_t now_ms, double tokens_per_ms) {
    const uint64_t at = word >> kBucketBits, tokens = word & kBucketMask;
    if (now_ms <= at) return tokens;
    const double left = double(tokens) - double(now_ms - at) * tokens_per_ms;
    return left > 0 ? uint64_t(left) : 0;
}

}  // namespace

uint64_t adapter_hash(std::string_view name) { return XXH3_64bits(name.data(), name.size()); }

void LoraAdapters::add(std::string_view name, std::array<uint64_t, kMaxAdapters>& list, uint32_t& kept,
                       uint32_t& count) {
    const uint64_t h = adapter_hash(name);
    if (std::find(list.begin(), list.begin() + kept, h) != list.begin() + kept) return;
    if (kept < kMaxAdapters) list[kept++] = h;
    ++count;
}

EndpointState::EndpointState(std::string pool, config::Endpoint endpoint)
    : last_score(std::numeric_limits<double>::quiet_NaN()),
      pool_(std::move(pool)),
      id_(endpoint_id(endpoint.address)),
      token_(base64(id_)),
      uid_(g_next_uid.fetch_add(1, std::memory_order_relaxed)),
      config_(std::move(endpoint)) {
    for (auto& s : last_scores) s.store(std::numeric_limits<double>::quiet_NaN(), std::memory_order_relaxed);
}

void EndpointState::publish(const EngineMetrics& m, Clock::time_point at) {
    constexpr auto r = std::memory_order_relaxed;
    waiting_.store(m.waiting, r);
    running_.store(m.running, r);
    kv_usage_.store(m.kv_usage, r);
    const LoraAdapters& l = m.lora;
    for (uint32_t i = 0; i < l.running_kept; ++i) lora_running_[i].store(l.running[i], r);
    for (uint32_t i = 0; i < l.waiting_kept; ++i) lora_waiting_[i].store(l.waiting[i], r);
    lora_running_kept_.store(l.running_kept, r);
    lora_waiting_kept_.store(l.waiting_kept, r);
    lora_running_count_.store(l.running_count, r);
    lora_waiting_count_.store(l.waiting_count, r);
    max_lora_.store(l.max_lora, r);
    kv_capacity_.store(m.kv_capacity_tokens, r);
    scrape_seq_.store((scrape_seq_.load(r) + 1) & kSeqMask, r);  // the scraper is the only writer
    scraped_at_ns_.store(to_ns(at), r);
    last_scrape_ok_.store(true, r);
    // The endpoint answered: it is reachable again (endpoint.hpp: `down`
    // is cleared by a successful connect or scrape).
    down.store(false, r);
}

void EndpointState::add_unseen_kv_tokens(int64_t tokens) {
    if (tokens <= 0) return;
    constexpr auto r = std::memory_order_relaxed;
    const uint64_t seq = scrape_seq_.load(r);
    uint64_t cur = unseen_kv_.load(r);
    for (;;) {
        const uint64_t base = (cur >> kTokenBits) == seq ? (cur & kTokenMask) : 0;
        const uint64_t sum = std::min<uint64_t>(base + uint64_t(tokens), kTokenMask);
        if (unseen_kv_.compare_exchange_weak(cur, (seq << kTokenBits) | sum, r, r)) return;
    }
}

int64_t EndpointState::unseen_kv_tokens() const {
    constexpr auto r = std::memory_order_relaxed;
    const uint64_t cur = unseen_kv_.load(r);
    return (cur >> kTokenBits) == scrape_seq_.load(r) ? int64_t(cur & kTokenMask) : 0;
}

void EndpointState::add_pending_prefill_tokens(int64_t tokens, Clock::time_point now, double tokens_per_second) {
    if (tokens <= 0) return;
    constexpr auto r = std::memory_order_relaxed;
    const uint64_t now_ms = clock_ms(now);
    const double per_ms = tokens_per_second / 1000;
    uint64_t cur = pending_prefill_.load(r);
    for (;;) {
        const uint64_t sum = std::min(drained(cur, now_ms, per_ms) + uint64_t(tokens), kBucketMask);
        const uint64_t at = std::max(now_ms, cur >> kBucketBits);  // never back in time
        if (pending_prefill_.compare_exchange_weak(cur, (at << kBucketBits) | sum, r, r)) return;
    }
}

int64_t EndpointState::pending_prefill_tokens(Clock::time_point now, double tokens_per_second) const {
    const uint64_t word = pending_prefill_.load(std::memory_order_relaxed);
    return int64_t(drained(word, clock_ms(now), tokens_per_second / 1000));
}

void EndpointState::scrape_failed(Clock::time_point /*at*/) {
    // scraped_at keeps the time of the last *good* scrape, so /debug can
    // still show how old the kept metrics are.
    last_scrape_ok_.store(false, std::memory_order_relaxed);
}

EngineMetrics EndpointState::metrics() const {
    constexpr auto r = std::memory_order_relaxed;
    EngineMetrics m{waiting_.load(r), running_.load(r), kv_usage_.load(r), {}, kv_capacity_.load(r)};
    LoraAdapters& l = m.lora;
    l.running_kept = std::min(lora_running_kept_.load(r), LoraAdapters::kMaxAdapters);
    l.waiting_kept = std::min(lora_waiting_kept_.load(r), LoraAdapters::kMaxAdapters);
    for (uint32_t i = 0; i < l.running_kept; ++i) l.running[i] = lora_running_[i].load(r);
    for (uint32_t i = 0; i < l.waiting_kept; ++i) l.waiting[i] = lora_waiting_[i].load(r);
    l.running_count = lora_running_count_.load(r);
    l.waiting_count = lora_waiting_count_.load(r);
    l.max_lora = max_lora_.load(r);
    return m;
}

LoraStatus EndpointState::lora_status(uint64_t h) const {
    constexpr auto r = std::memory_order_relaxed;
    auto in = [&](const auto& list, const std::atomic<uint32_t>& kept) {
        const uint32_t n = std::min(kept.load(r), LoraAdapters::kMaxAdapters);
        for (uint32_t i = 0; i < n; ++i)
            if (list[i].load(r) == h) return true;
        return false;
    };
    LoraStatus s;
    s.running = in(lora_running_, lora_running_kept_);
    s.waiting = in(lora_waiting_, lora_waiting_kept_);
    s.adapters = static_cast<int64_t>(lora_running_count_.load(r)) + lora_waiting_count_.load(r);
    s.max_lora = max_lora_.load(r);
    return s;
}

Clock::time_point EndpointState::scraped_at() const {
    return Clock::time_point(std::chrono::nanoseconds(scraped_at_ns_.load(std::memory_order_relaxed)));
}

bool EndpointState::fresh(Clock::time_point now, std::chrono::milliseconds staleness) const {
    if (!last_scrape_ok()) return false;
    const int64_t at = scraped_at_ns_.load(std::memory_order_relaxed);
    if (at == 0) return false;
    const int64_t age_ns = to_ns(now) - at;
    return age_ns <= std::chrono::duration_cast<std::chrono::nanoseconds>(staleness).count();
}

}  // namespace infergate::picker
