// Sums per-worker FixedHistograms (stats.hpp) into one Prometheus histogram
// sample at scrape time (control thread). Workers keep writing their relaxed
// atomics while the scrape reads them, so a sample may catch a worker's
// bucket increment without its count increment (or the reverse): the +Inf
// bucket is the summed buckets, never the separately kept count, so the
// exposed buckets are always cumulative and end at +Inf; `count` may differ
// from the +Inf bucket by the observations in flight during the scrape.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include <prometheus/client_metric.h>

namespace infergate::proxy {

template <class H>
struct MergedHistogram {
    std::array<uint64_t, H::kBuckets> buckets{};  // non-cumulative; last is +Inf
    uint64_t count = 0;
    double sum = 0;

    void add(const H& h) { h.add_to(buckets, count, sum); }

    // The Prometheus sample: cumulative buckets with H's bounds, then +Inf.
    prometheus::ClientMetric metric(std::vector<prometheus::ClientMetric::Label> labels = {}) const {
        prometheus::ClientMetric m;
        m.label = std::move(labels);
        m.histogram.sample_count = count;
        m.histogram.sample_sum = sum;
        uint64_t cum = 0;
        for (size_t i = 0; i < H::kBounds.size(); ++i) {
            cum += buckets[i];
            m.histogram.bucket.push_back({cum, H::kBounds[i]});
        }
        cum += buckets.back();
        m.histogram.bucket.push_back({cum, std::numeric_limits<double>::infinity()});
        return m;
    }
};

}  // namespace infergate::proxy
